# Set by stage.auto.tfvars and tenants.auto.tfvars. Untyped here: module "platform" holds their one type
# and their rules (modules/platform/variables.tf).
variable "stage" { type = any }
variable "tenants" { type = any }
variable "package_path" { default = "../../../.build/lambda/fairshare.zip" }

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
