variable "name_prefix" {
  description = "Prefix of every name, e.g. \"fairshare\"; roles are \"<name_prefix>-<stage>-tenant-<tenant>\" (shortened with a hash beyond IAM's 64 characters)."
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
  description = "Tenants that get an execution role: name => what its queries may reach (Glue databases, S3 data locations as ARNs, its workgroup's ARN)."
  type = map(object({
    databases      = list(string)
    data_locations = optional(list(string), [])
    workgroup_arn  = string
  }))

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.databases) >= 1 && alltrue([for db in t.databases : can(regex("^[a-z0-9_]{1,255}$", db))])])
    error_message = "Each tenant needs at least one Glue database; database names are lowercase letters, digits and underscores."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : alltrue([for a in t.data_locations : can(regex("^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^*?]*)?$", a))])])
    error_message = "data_locations must be S3 bucket or prefix ARNs without wildcards."
  }
}

variable "trusted_role_arns" {
  description = "The execution roles of the functions that act as a tenant (dispatcher, completion, api): the only principals each tenant role trusts."
  type        = list(string)

  validation {
    condition     = length(var.trusted_role_arns) >= 1 && alltrue([for a in var.trusted_role_arns : can(regex("^arn:[a-z-]+:iam::[0-9]{12}:role/.+$", a))])
    error_message = "trusted_role_arns must be one or more IAM role ARNs."
  }
}

variable "results_bucket_arn" {
  description = "ARN of the stage's results bucket."
  type        = string
}

variable "results_prefix" {
  description = "Key prefix of query results in the bucket; a tenant's results are under <prefix><tenant>/ (as its workgroup enforces)."
  type        = string
  default     = "results/"
}

variable "max_session_duration" {
  description = "Longest session of a tenant role, in seconds (the functions refresh their credentials before they expire)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be 3600-43200 seconds."
  }
}

variable "kms_key_arn" {
  description = "The stage's KMS key (results encryption); null = none to grant."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
