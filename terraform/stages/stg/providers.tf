# The stage account, through its deploy role (account_id, region and deploy_role_name: stage.auto.tfvars).
provider "aws" {
  region              = var.stage.region
  allowed_account_ids = [var.stage.account_id]
  assume_role { role_arn = "arn:aws:iam::${var.stage.account_id}:role/${var.stage.deploy_role_name}" }
  default_tags { tags = { project = "athena-fairshare", stage = var.stage.name } }
}
