locals {
  # The Lambdas run on the host (LocalStack's host executor) and call LocalStack through these.
  lambda_endpoints = merge(
    { AWS_ENDPOINT_URL = var.localstack_endpoint },
    var.athena_endpoint == var.localstack_endpoint ? {} : { AWS_ENDPOINT_URL_ATHENA = var.athena_endpoint },
  )
}

module "platform" {
  source = "../../modules/platform"

  name_prefix  = "fairshare"
  stage        = "local"
  tenants      = var.tenants
  package_path = var.package_path

  # Small quotas so that contention, fairness and throttles show within seconds.
  pools = {
    DML = { quota = 20, headroom = 0, recovery_interval_s = 5 }
    DDL = { quota = 5, headroom = 0 }
  }

  extra_environment               = local.lambda_endpoints
  log_level                       = "DEBUG"
  dispatcher_reserved_concurrency = -1
  # Quick redrive and tick so that end-to-end tests see them within their timeouts.
  redrive_schedule    = "rate(1 minute)"
  max_receive_count   = 3
  force_destroy       = true
  deletion_protection = false
}
