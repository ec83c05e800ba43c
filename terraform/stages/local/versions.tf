terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }

  # State on disk: terraform.tfstate here, or elsewhere with -backend-config="path=<file>"
  # (scripts/deploy.py keeps it in .localstack/terraform.tfstate).
  backend "local" {}
}
