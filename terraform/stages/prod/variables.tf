variable "stage" {
  description = "Stage name."
  type        = string
}

variable "region" {
  description = "Region of the stage."
  type        = string
  default     = "us-east-1"
}

variable "account_id" {
  description = "AWS account of the stage; the provider refuses any other (allowed_account_ids)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "deploy_role_name" {
  description = "Role in the stage account that Terraform assumes."
  type        = string
  default     = "athena-fairshare-deploy"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "fairshare"
}

variable "package_path" {
  description = "The Lambda zip built by scripts/package_lambdas.py."
  type        = string
  default     = "../../../.build/lambda/fairshare.zip"
}

variable "pools" {
  description = "Athena quota pools of the stage account (see modules/platform)."
  type        = any
}

variable "tenants" {
  description = "The stage's tenants (see modules/platform for the fields)."
  type        = any
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Optional customer-managed KMS key for the stage's data."
  type        = string
  default     = null
}
