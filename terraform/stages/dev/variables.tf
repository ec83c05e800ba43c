# Set by stage.auto.tfvars and tenants.auto.tfvars. Untyped here: module "platform" holds their one type
# and their rules (modules/platform/variables.tf).
variable "stage" { type = any }
variable "tenants" { type = any }
variable "package_path" { default = "../../../.build/lambda/fairshare.zip" }
