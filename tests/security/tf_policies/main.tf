# A test-only root for tests/security/test_least_privilege.py: the platform module with every optional
# permission switched on (a stage key, data locations, Glue databases, notification topics), applied
# against a mocked provider by tests/policies.tftest.hcl so that each policy document is rendered.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "package_path" {
  type = string
}

module "platform" {
  source = "../../../terraform/modules/platform"

  stage = {
    name        = "lp"
    name_prefix = "fairshare"
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }
  package_path = var.package_path

  tenants = {
    analytics = {
      weight           = 3
      databases        = ["default", "web"]
      data_locations   = ["arn:aws:s3:::fs-datalake/analytics/", "arn:aws:s3:::fs-shared/reference"]
      notify_topic_arn = "arn:aws:sns:us-east-1:123456789012:analytics-notify"
    }
    finance = {
      allow_ddl      = true
      databases      = ["ledger"]
      data_locations = ["arn:aws:s3:::fs-finance/"]
    }
  }
}
