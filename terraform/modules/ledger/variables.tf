variable "name_prefix" {
  description = "Prefix of every name; tables are \"<name_prefix>-<stage>-queries\" and \"<name_prefix>-<stage>-state\"."
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

variable "kms_key_arn" {
  description = "Customer-managed KMS key for both tables; null uses the AWS-owned key (SSE is always on)."
  type        = string
  default     = null
}

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery on both tables."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect both tables from deletion (turn on for prod)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for both tables."
  type        = map(string)
  default     = {}
}
