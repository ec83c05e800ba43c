# LocalStack on the host: every service the platform uses points at var.endpoints.localstack, Athena at
# var.endpoints.athena (our emulator may listen elsewhere). Dummy credentials; the account id is still
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
    apigateway = var.endpoints.localstack
    athena     = var.endpoints.athena
    cloudwatch = var.endpoints.localstack
    dynamodb   = var.endpoints.localstack
    events     = var.endpoints.localstack
    iam        = var.endpoints.localstack
    kms        = var.endpoints.localstack
    lambda     = var.endpoints.localstack
    logs       = var.endpoints.localstack
    s3         = var.endpoints.localstack
    sns        = var.endpoints.localstack
    sqs        = var.endpoints.localstack
    sts        = var.endpoints.localstack
  }

  default_tags {
    tags = {
      project = "athena-fairshare"
      stage   = var.stage.name
    }
  }
}
