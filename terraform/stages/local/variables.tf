variable "localstack_endpoint" {
  description = "LocalStack's gateway; every AWS service of the stage (but Athena) is called here."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://", var.localstack_endpoint))
    error_message = "localstack_endpoint must be an http(s) URL."
  }
}

variable "athena_endpoint" {
  description = "Endpoint of Athena (the emulator); the Lambdas get it as AWS_ENDPOINT_URL_ATHENA when it differs from localstack_endpoint."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://", var.athena_endpoint))
    error_message = "athena_endpoint must be an http(s) URL."
  }
}

variable "region" {
  description = "Region of the local stage."
  type        = string
  default     = "us-east-1"
}

variable "package_path" {
  description = "The Lambda zip built by scripts/package_lambdas.py."
  type        = string
  default     = "../../../.build/lambda/fairshare.zip"
}

variable "tenants" {
  description = "The local stage's tenants (see modules/platform for the fields)."
  type        = any
}
