locals {
  # The Lambdas run on the host (LocalStack's host executor) and call LocalStack through these.
  # The ledger goes straight to DynamoDB Local: on AWS, DynamoDB is its own service; through LocalStack's
  # gateway every ledger call also queued behind every other call of the platform on one Python process.
  lambda_endpoints = merge(
    { AWS_ENDPOINT_URL = var.localstack_endpoint },
    var.athena_endpoint == var.localstack_endpoint ? {} : { AWS_ENDPOINT_URL_ATHENA = var.athena_endpoint },
    var.dynamodb_endpoint == null ? {} : { AWS_ENDPOINT_URL_DYNAMODB = var.dynamodb_endpoint },
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
  # The end-to-end tests invoke redrive themselves and watch a message sit in a DLQ until its alarm
  # fires, so the scheduled redrive stays out of their way.
  redrive_schedule  = "rate(1 hour)"
  max_receive_count = 2
  # A short completion timeout keeps the events queue's visibility timeout (6x) at one minute, and a
  # short event grace lets the tick reconcile a query whose event was lost within a minute.
  function_timeouts   = { completion = 10 }
  scheduler           = { event_grace_s = 15 }
  force_destroy       = true
  deletion_protection = false
}
