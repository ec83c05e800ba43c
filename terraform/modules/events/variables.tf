variable "name_prefix" {
  description = "Prefix of every name; rules are \"<name_prefix>-<stage>-<what>\"."
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

variable "dispatcher_function_name" {
  description = "Name of the dispatcher Lambda (ticked by the schedule)."
  type        = string
}

variable "dispatcher_function_arn" {
  description = "ARN of the dispatcher Lambda."
  type        = string
}

variable "redrive_function_name" {
  description = "Name of the redrive Lambda."
  type        = string
}

variable "redrive_function_arn" {
  description = "ARN of the redrive Lambda."
  type        = string
}

variable "events_queue_arn" {
  description = "ARN of the athena-events queue that receives Athena's state changes."
  type        = string
}

variable "workgroup_names" {
  description = "The stage's workgroups; only their state changes are forwarded."
  type        = list(string)

  validation {
    condition     = length(var.workgroup_names) >= 1
    error_message = "At least one workgroup is needed."
  }
}

variable "dispatcher_schedule" {
  description = "Schedule of the dispatcher tick (admission and reconciliation when no message arrives)."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.dispatcher_schedule))
    error_message = "dispatcher_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "redrive_schedule" {
  description = "Schedule of the DLQ redrive."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.redrive_schedule))
    error_message = "redrive_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "redrive_enabled" {
  description = "Run the redrive schedule (operators may turn it off while investigating a DLQ)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every rule."
  type        = map(string)
  default     = {}
}
