terraform {
  # use_lockfile (S3-native state locking) needs Terraform 1.10.
  required_version = ">= 1.10"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
  # Partial configuration: `init -backend-config=backend.hcl` (scripts/deploy.py, terraform/README.md).
  backend "s3" {}
}
