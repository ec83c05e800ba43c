variable "name_prefix" {
  description = "Prefix of every name; functions are \"<name_prefix>-<stage>-<function>\"."
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

variable "package_path" {
  description = "Path of the one zip that holds every handler (scripts/package_lambdas.py writes .build/lambda/fairshare.zip)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must point at a .zip file."
  }
}

variable "runtime" {
  description = "Lambda runtime of every function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or newer."
  }
}

variable "timeouts" {
  description = "Timeout in seconds per function (api, dispatcher, completion, redrive); missing keys keep their defaults (29, 60, 30, 120)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.timeouts : contains(["api", "dispatcher", "completion", "redrive"], k) && v >= 1 && v <= 900])
    error_message = "timeouts keys must be api, dispatcher, completion or redrive, values 1-900."
  }
}

variable "memory_sizes" {
  description = "Memory in MB per function (api, dispatcher, completion, redrive); missing keys keep 512."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.memory_sizes : contains(["api", "dispatcher", "completion", "redrive"], k) && v >= 128 && v <= 10240])
    error_message = "memory_sizes keys must be api, dispatcher, completion or redrive, values 128-10240."
  }
}

variable "dispatcher_reserved_concurrency" {
  description = "Reserved concurrent executions of the dispatcher (admission is safe under concurrency, I-2; this bounds the burst). -1 means unreserved."
  type        = number
  default     = 2

  validation {
    condition     = var.dispatcher_reserved_concurrency == -1 || var.dispatcher_reserved_concurrency >= 1
    error_message = "dispatcher_reserved_concurrency must be -1 (unreserved) or at least 1."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 3653)."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "extra_environment" {
  description = "Extra environment variables of every function (the local stage sets AWS_ENDPOINT_URL)."
  type        = map(string)
  default     = {}
}

variable "config_bucket_name" {
  description = "Bucket that holds the configuration object (the stage's results bucket)."
  type        = string
}

variable "config_object_key" {
  description = "Key of the configuration object in config_bucket_name."
  type        = string
  default     = "config/fairshare.json"
}

variable "config_version" {
  description = "Version of the configuration object (its md5); a change makes new execution environments."
  type        = string
}

variable "queries_table_arn" {
  description = "ARN of the ledger's queries table."
  type        = string
}

variable "queries_index_arns" {
  description = "ARNs of the queries table's GSIs."
  type        = list(string)
}

variable "state_table_arn" {
  description = "ARN of the ledger's state table."
  type        = string
}

variable "submissions_queue_arn" {
  description = "ARN of the submissions queue (dispatcher's event source)."
  type        = string
}

variable "submissions_dlq_arn" {
  description = "ARN of the submissions DLQ."
  type        = string
}

variable "events_queue_arn" {
  description = "ARN of the athena-events queue (completion's event source)."
  type        = string
}

variable "events_dlq_arn" {
  description = "ARN of the athena-events DLQ."
  type        = string
}

variable "tenant_role_arns" {
  description = "The tenants' execution roles (module tenant_roles). The functions that act as a tenant (api, dispatcher, completion) may assume these and hold no Athena, Glue or data access of their own."
  type        = list(string)

  validation {
    condition     = length(var.tenant_role_arns) >= 1 && alltrue([for a in var.tenant_role_arns : can(regex("^arn:[a-z-]+:iam::[0-9]{12}:role/.+$", a)) && !strcontains(a, "*")])
    error_message = "tenant_role_arns must be one or more IAM role ARNs without wildcards."
  }
}

variable "notify_topic_arns" {
  description = "SNS topics the completion function may publish to (tenant notifications)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key used by the stage's queues, tables and bucket; null if AWS-managed encryption is used."
  type        = string
  default     = null
}

variable "dispatcher_batch_size" {
  description = "Messages per dispatcher invocation from the submissions queue."
  type        = number
  default     = 10

  validation {
    condition     = var.dispatcher_batch_size >= 1 && var.dispatcher_batch_size <= 10000
    error_message = "dispatcher_batch_size must be between 1 and 10000."
  }
}

variable "dispatcher_batching_window_seconds" {
  description = "How long the submissions ESM gathers messages before invoking the dispatcher (bursts become one wake-up)."
  type        = number
  default     = 1

  validation {
    condition     = var.dispatcher_batching_window_seconds >= 0 && var.dispatcher_batching_window_seconds <= 300
    error_message = "dispatcher_batching_window_seconds must be between 0 and 300."
  }
}

variable "completion_batch_size" {
  description = "Messages per completion invocation from the athena-events queue."
  type        = number
  default     = 10

  validation {
    condition     = var.completion_batch_size >= 1 && var.completion_batch_size <= 10000
    error_message = "completion_batch_size must be between 1 and 10000."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
