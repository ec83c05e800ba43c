variable "name_prefix" {
  description = "Prefix of every name; the API is \"<name_prefix>-<stage>-api\"."
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

variable "api_stage_name" {
  description = "Name of the API Gateway stage (the first path segment of the invoke URL)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.api_stage_name))
    error_message = "api_stage_name must be 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "tenants" {
  description = "Tenants that get an API key and a usage plan: name => throttle (requests per second and burst) and optional daily request quota."
  type = map(object({
    api_rate_limit    = optional(number, 10)
    api_burst_limit   = optional(number, 20)
    api_quota_per_day = optional(number)
  }))

  validation {
    condition     = length(var.tenants) >= 1
    error_message = "At least one tenant is needed."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.api_rate_limit > 0 && t.api_burst_limit >= 1 && floor(t.api_burst_limit) == t.api_burst_limit])
    error_message = "api_rate_limit must be > 0 and api_burst_limit a whole number >= 1."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.api_quota_per_day == null || try(t.api_quota_per_day >= 1, false)])
    error_message = "api_quota_per_day must be null or at least 1."
  }
}

variable "function_name" {
  description = "Name of the api Lambda (for the invoke permission)."
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of the api Lambda (AWS_PROXY integration target)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 3653)."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the access log group; null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "xray_tracing" {
  description = "Enable X-Ray tracing on the API stage."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
