variable "name" {
  description = "Name of the source queue; the DLQ is named \"<name>-dlq\" (FIFO queues get the .fifo suffix appended to both)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,70}$", var.name))
    error_message = "name must be 1-70 characters of [A-Za-z0-9_-] (room is left for -dlq and .fifo)."
  }
}

variable "fifo" {
  description = "Create FIFO queues (source and DLQ) instead of standard queues."
  type        = bool
  default     = false
}

variable "content_based_deduplication" {
  description = "FIFO only: deduplicate on a SHA-256 of the body when no deduplication id is given."
  type        = bool
  default     = false
}

variable "quarantine" {
  description = "Also create \"<name>-quarantine\", where the consumer parks poison messages (never resent); same retention and encryption as the DLQ."
  type        = bool
  default     = false
}

variable "max_receive_count" {
  description = "Receives of one message before SQS moves it to the DLQ."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be an integer from 1 to 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the source queue; keep it at least 6x the consumer Lambda timeout."
  type        = number
  default     = 180

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "message_retention_seconds" {
  description = "Retention of messages in the source queue."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of messages in the DLQ; the maximum by default so that operators have time to redrive."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait of the source queue."
  type        = number
  default     = 0

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest; null uses SQS-managed encryption (SSE-SQS)."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "With a KMS key: how long SQS reuses a data key before calling KMS again."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be between 60 and 86400."
  }
}

variable "allow_eventbridge_rule_arns" {
  description = "EventBridge rule ARNs allowed to SendMessage to the source queue (adds a queue policy when non-empty)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for both queues."
  type        = map(string)
  default     = {}
}
