# LocalStack on the host: every service the platform uses points at var.localstack_endpoint, Athena at
# var.athena_endpoint (our emulator may listen elsewhere). Dummy credentials; the account id is still
# requested because Athena workgroup ARNs need it.
provider "aws" {
  region     = var.stage.region
  access_key = "test"
  secret_key = "test"

  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false

  endpoints {
    apigateway = var.localstack_endpoint
    athena     = var.athena_endpoint
    cloudwatch = var.localstack_endpoint
    dynamodb   = var.localstack_endpoint
    events     = var.localstack_endpoint
    iam        = var.localstack_endpoint
    kms        = var.localstack_endpoint
    lambda     = var.localstack_endpoint
    logs       = var.localstack_endpoint
    s3         = var.localstack_endpoint
    sns        = var.localstack_endpoint
    sqs        = var.localstack_endpoint
    sts        = var.localstack_endpoint
  }

  default_tags {
    tags = {
      project = "athena-fairshare"
      stage   = var.stage.name
    }
  }
}
