provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  assume_role {
    role_arn     = "arn:aws:iam::${var.account_id}:role/${var.deploy_role_name}"
    session_name = "athena-fairshare-${var.stage}"
  }

  default_tags {
    tags = {
      project = "athena-fairshare"
      stage   = var.stage
    }
  }
}
