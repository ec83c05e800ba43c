variable "name_prefix" {
  description = "Prefix of every name, e.g. \"fairshare\"; workgroups are \"<name_prefix>-<stage>-<tenant>\"."
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
    error_message = "stage must match ^[a-z][a-z0-9-]{0,15}$ (the configuration object's rule)."
  }
}

variable "tenants" {
  description = "Tenants that get a workgroup: name => settings of the workgroup."
  type = map(object({
    bytes_scanned_cutoff_per_query = optional(number, 10737418240)
  }))

  validation {
    condition     = length(var.tenants) >= 1
    error_message = "At least one tenant is needed."
  }

  validation {
    condition     = alltrue([for name, _ in var.tenants : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])
    error_message = "Tenant names must be 1-64 characters of [A-Za-z0-9_-]."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.bytes_scanned_cutoff_per_query >= 10485760])
    error_message = "bytes_scanned_cutoff_per_query must be at least 10485760 bytes (Athena's minimum)."
  }
}

variable "bucket_name" {
  description = "Name of the results bucket; null gives \"<name_prefix>-<stage>-results-<account id>\"."
  type        = string
  default     = null
}

variable "results_prefix" {
  description = "Key prefix of query results in the bucket; each tenant writes under <prefix><tenant>/."
  type        = string
  default     = "results/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/$", var.results_prefix))
    error_message = "results_prefix must be a single path segment ending in \"/\"."
  }
}

variable "results_expiration_days" {
  description = "Query results (and their non-current versions) expire after this many days."
  type        = number
  default     = 30

  validation {
    condition     = var.results_expiration_days >= 1
    error_message = "results_expiration_days must be at least 1."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the bucket and query results; null uses SSE-S3."
  type        = string
  default     = null
}

variable "engine_version" {
  description = "Athena engine version of every workgroup."
  type        = string
  default     = "Athena engine version 3"

  validation {
    condition     = contains(["AUTO", "Athena engine version 3"], var.engine_version)
    error_message = "engine_version must be \"AUTO\" or \"Athena engine version 3\"."
  }
}

variable "force_destroy" {
  description = "Allow destroying the workgroups and the bucket while they still hold queries or objects."
  type        = bool
  default     = true
}

variable "versioning" {
  description = "Version the results bucket (non-current versions expire with the results)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
