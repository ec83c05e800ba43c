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

variable "dynamodb_endpoint" {
  description = "DynamoDB Local's own port (localstack/ctl.py starts it there with one shared database); the Lambdas get it as AWS_ENDPOINT_URL_DYNAMODB. null: through LocalStack's gateway."
  type        = string
  default     = "http://127.0.0.1:4568"

  validation {
    condition     = var.dynamodb_endpoint == null || can(regex("^https?://", var.dynamodb_endpoint))
    error_message = "dynamodb_endpoint must be an http(s) URL or null."
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
