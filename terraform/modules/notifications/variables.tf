variable "name_prefix" {
  description = "Prefix of every name: \"<name_prefix>-<stage>-<what>\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "stage" {
  description = "Stage name (dev, stg, prod, local)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.stage))
    error_message = "stage must match ^[a-z][a-z0-9-]{0,15}$."
  }
}

variable "tenants" {
  description = "Tenants with an HTTPS callback: name => its endpoint, and the SNS topic the platform notifies (null: the module creates \"<prefix>-<stage>-<tenant>-notifications\")."
  type = map(object({
    https_endpoint = string
    topic_arn      = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for t in values(var.tenants) : can(regex("^https://[^\\s/$.?#].[^\\s]*$", t.https_endpoint))])
    error_message = "https_endpoint must be an https:// URL."
  }
}

variable "max_retries" {
  description = "Deliveries SNS tries per notification before it goes to the callbacks DLQ (healthyRetryPolicy.numRetries)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_retries >= 0 && var.max_retries <= 100 && floor(var.max_retries) == var.max_retries
    error_message = "max_retries must be a whole number within 0-100 (SNS's limit for HTTP/S)."
  }
}

variable "max_delay_seconds" {
  description = "Longest wait between two delivery attempts (exponential back-off from 1 s up to this)."
  type        = number
  default     = 300

  validation {
    condition     = var.max_delay_seconds >= 1 && var.max_delay_seconds <= 3600
    error_message = "max_delay_seconds must be within 1-3600."
  }
}

variable "alarm_topic_arn" {
  description = "The stage's alarm topic: the callbacks DLQ alarm goes there (null: no alarm actions)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key for the created topics and the DLQ; null uses the AWS-managed alias/aws/sns and SSE-SQS."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
