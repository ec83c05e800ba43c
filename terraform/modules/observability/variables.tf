variable "name_prefix" {
  description = "Prefix of every name; alarms are \"<name_prefix>-<stage>-<what>\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "stage" {
  description = "Stage name (dev, stg, prod, local); also the `stage` dimension of the AthenaFairshare metrics."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.stage))
    error_message = "stage must match ^[a-z][a-z0-9-]{0,15}$."
  }
}

variable "region" {
  description = "Region of the dashboard's widgets."
  type        = string
}

variable "dlq_names" {
  description = "Dead-letter queues to watch: label => queue name."
  type        = map(string)
}

variable "quarantine_names" {
  description = "Quarantine queues to watch (poison dead letters, never resent): label => queue name."
  type        = map(string)
  default     = {}
}

variable "queue_names" {
  description = "Source queues shown on the dashboard: label => queue name."
  type        = map(string)
  default     = {}
}

variable "dispatcher_function_name" {
  description = "Name of the dispatcher Lambda (its Errors are alarmed)."
  type        = string
}

variable "tenants" {
  description = "Tenants: their workgroup, optional daily bytes budget (alarmed on AWS/Athena ProcessedBytes) and optional SNS topic that also gets their budget alarm."
  type = map(object({
    workgroup          = string
    daily_bytes_budget = optional(number)
    notify_topic_arn   = optional(string)
  }))

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.daily_bytes_budget == null || try(t.daily_bytes_budget >= 1, false)])
    error_message = "daily_bytes_budget must be null or at least 1."
  }
}

variable "dml_quota" {
  description = "Athena's active DML query quota of the account and region."
  type        = number

  validation {
    condition     = var.dml_quota >= 1
    error_message = "dml_quota must be at least 1."
  }
}

variable "active_queries_alarm_ratio" {
  description = "Alarm when AWS/Usage ActiveQueryCount (DML) reaches this share of dml_quota."
  type        = number
  default     = 0.9

  validation {
    condition     = var.active_queries_alarm_ratio > 0 && var.active_queries_alarm_ratio <= 1
    error_message = "active_queries_alarm_ratio must be in (0, 1]."
  }
}

variable "throttle_alarm_threshold" {
  description = "Alarm when more than this many quota throttles (ThrottlingErrorCount) happen in 5 minutes."
  type        = number
  default     = 20

  validation {
    condition     = var.throttle_alarm_threshold >= 0
    error_message = "throttle_alarm_threshold must be >= 0."
  }
}

variable "queued_age_slo_seconds" {
  description = "SLO of the oldest queued query's age (OldestQueuedAgeSeconds); above it for 3 minutes alarms."
  type        = number
  default     = 900

  validation {
    condition     = var.queued_age_slo_seconds >= 1
    error_message = "queued_age_slo_seconds must be at least 1."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the alarm topic; it must let cloudwatch.amazonaws.com use it. null creates a dedicated key (the AWS-managed aws/sns key cannot be used by CloudWatch alarms)."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
