locals {
  # The Lambdas run on the host (LocalStack's host executor) and call LocalStack through these.
  # The ledger goes straight to DynamoDB Local: on AWS, DynamoDB is its own service; through LocalStack's
  # gateway every ledger call also queued behind every other call of the platform on one Python process.
  lambda_endpoints = merge(
    { AWS_ENDPOINT_URL = var.endpoints.localstack },
    var.endpoints.athena == var.endpoints.localstack ? {} : { AWS_ENDPOINT_URL_ATHENA = var.endpoints.athena },
    var.endpoints.dynamodb == "" ? {} : { AWS_ENDPOINT_URL_DYNAMODB = var.endpoints.dynamodb },
  )
}

module "platform" {
  source       = "../../modules/platform"
  stage        = merge(var.stage, { extra_environment = local.lambda_endpoints })
  tenants      = var.tenants
  package_path = var.package_path
}
