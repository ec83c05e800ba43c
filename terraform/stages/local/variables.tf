# Set by stage.auto.tfvars and tenants.auto.tfvars. Untyped here: module "platform" holds their one type
# and their rules (modules/platform/variables.tf).
variable "stage" { type = any }
variable "tenants" { type = any }
variable "package_path" { default = "../../../.build/lambda/fairshare.zip" }

variable "endpoints" {
  description = <<-EOT
    Where the local stage's services answer. localstack: LocalStack's gateway, where every AWS service of the
    stage (but Athena) is called. athena: the Athena emulator; the Lambdas get it as AWS_ENDPOINT_URL_ATHENA
    when it differs from localstack. dynamodb: DynamoDB Local's own port (localstack/ctl.py starts it there
    with one shared database); the Lambdas get it as AWS_ENDPOINT_URL_DYNAMODB, and "" sends them through
    LocalStack's gateway instead.
  EOT
  type = object({
    localstack = optional(string, "http://127.0.0.1:4566")
    athena     = optional(string, "http://127.0.0.1:4566")
    dynamodb   = optional(string, "http://127.0.0.1:4568")
  })
  default = {}

  validation {
    condition     = alltrue([for name, url in var.endpoints : can(regex("^https?://", url)) || (name == "dynamodb" && url == "")])
    error_message = "Each endpoint must be an http(s) URL (dynamodb may be \"\": through the gateway)."
  }
}
