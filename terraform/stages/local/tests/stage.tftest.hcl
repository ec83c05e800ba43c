# Plans the local stage with its tfvars against a mocked provider; what holds for every stage is checked by
# the platform module. The local stage promises the quotas and weights the e2e tests count on.
mock_provider "aws" { source = "../mocks" }

variables {
  package_path = "../../modules/functions/tests/fixtures/fairshare.zip"
}

run "local_quotas_and_tenants" {
  command = plan

  assert {
    condition     = module.platform.config_document.stage == "local" && module.platform.config_document.pools.DML.quota == 20 && module.platform.config_document.pools.DDL.quota == 5
    error_message = "the local stage runs with a DML quota of 20 and a DDL quota of 5"
  }

  assert {
    condition     = [for t in ["analytics", "marketing", "finance"] : module.platform.config_document.tenants[t].weight] == [3, 2, 1]
    error_message = "the local tenants are analytics, marketing and finance with weights 3:2:1"
  }

  assert {
    condition     = local.lambda_endpoints == { AWS_ENDPOINT_URL = "http://127.0.0.1:4566", AWS_ENDPOINT_URL_DYNAMODB = "http://127.0.0.1:4568" }
    error_message = "by default the Lambdas call LocalStack's gateway, and DynamoDB Local on its own port; got ${jsonencode(local.lambda_endpoints)}"
  }
}

run "rejects_an_endpoint_that_is_not_a_url" {
  command = plan

  variables {
    endpoints = { localstack = "127.0.0.1:4566" }
  }

  expect_failures = [var.endpoints]
}

run "an_emulator_elsewhere_and_the_ledger_through_the_gateway" {
  command = plan

  variables {
    endpoints = { athena = "http://127.0.0.1:4599", dynamodb = "" }
  }

  assert {
    condition     = local.lambda_endpoints == { AWS_ENDPOINT_URL = "http://127.0.0.1:4566", AWS_ENDPOINT_URL_ATHENA = "http://127.0.0.1:4599" }
    error_message = "an Athena endpoint of its own reaches the Lambdas, and dynamodb = \"\" leaves the ledger on the gateway; got ${jsonencode(local.lambda_endpoints)}"
  }
}
