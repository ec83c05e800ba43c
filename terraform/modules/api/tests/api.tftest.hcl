mock_provider "aws" {
  mock_resource "aws_api_gateway_rest_api" {
    override_during = plan
    defaults = {
      id               = "abc123"
      root_resource_id = "root0"
      execution_arn    = "arn:aws:execute-api:us-east-1:123456789012:abc123"
    }
  }
  mock_resource "aws_api_gateway_resource" {
    override_during = plan
    defaults        = { id = "res0" }
  }
  mock_resource "aws_api_gateway_method" {
    override_during = plan
    defaults        = { id = "method0" }
  }
  mock_resource "aws_api_gateway_integration" {
    override_during = plan
    defaults        = { id = "integration0" }
  }
}

variables {
  name_prefix         = "fs"
  stage               = "dev"
  function_name       = "fs-dev-api"
  function_invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fs-dev-api/invocations"
  tenants = {
    analytics = { api_rate_limit = 30, api_burst_limit = 60 }
    marketing = { api_rate_limit = 20, api_burst_limit = 40, api_quota_per_day = 100000 }
    finance   = {}
  }
}

run "every_contract_route_requires_an_api_key" {
  command = plan

  assert {
    condition     = toset(keys(aws_api_gateway_method.route)) == toset(["POST /queries", "GET /queries", "GET /queries/{id}", "DELETE /queries/{id}", "GET /queries/{id}/results", "GET /usage", "POST /athena/query"])
    error_message = "routes differ from docs/CONTRACTS.md: ${jsonencode(keys(aws_api_gateway_method.route))}"
  }

  assert {
    condition     = alltrue([for m in values(aws_api_gateway_method.route) : m.api_key_required])
    error_message = "every method must require an API key (the key is the tenant's identity)"
  }

  assert {
    condition     = alltrue([for i in values(aws_api_gateway_integration.route) : i.type == "AWS_PROXY" && i.integration_http_method == "POST" && i.uri == var.function_invoke_arn])
    error_message = "every route must be an AWS_PROXY integration of the api Lambda"
  }

  assert {
    condition     = aws_api_gateway_resource.results.path_part == "results" && aws_api_gateway_resource.query.path_part == "{id}"
    error_message = "path parts of /queries/{id}/results are wrong"
  }

  assert {
    condition     = aws_lambda_permission.api.source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*" && aws_lambda_permission.api.principal == "apigateway.amazonaws.com"
    error_message = "the invoke permission must be limited to this API's stage"
  }

  assert {
    condition     = aws_cloudwatch_log_group.access.retention_in_days == 365 && length(aws_api_gateway_stage.this.access_log_settings) == 1
    error_message = "the stage must write access logs to a log group with retention"
  }
}

run "the_athena_endpoint_is_signed_not_keyed" {
  command = plan

  assert {
    condition     = aws_api_gateway_method.athena.http_method == "POST" && aws_api_gateway_method.athena.api_key_required == false && aws_api_gateway_method.athena.authorization == "NONE"
    error_message = "POST /athena takes no API key: Athena clients sign with SigV4 and the api Lambda verifies it"
  }

  assert {
    condition     = aws_api_gateway_resource.athena.path_part == "athena" && aws_api_gateway_resource.athena.parent_id == "root0"
    error_message = "the Athena endpoint must be /athena at the API's root"
  }

  assert {
    condition     = aws_api_gateway_integration.athena.type == "AWS_PROXY" && aws_api_gateway_integration.athena.integration_http_method == "POST" && aws_api_gateway_integration.athena.uri == var.function_invoke_arn
    error_message = "POST /athena must be an AWS_PROXY integration of the api Lambda"
  }

  assert {
    condition     = output.athena_path == "/athena"
    error_message = "the athena_path output must name the endpoint's path"
  }
}

run "iam_routes_are_authorized_by_sigv4_only" {
  command = plan

  assert {
    condition     = aws_api_gateway_resource.iam.path_part == "iam" && aws_api_gateway_resource.iam_proxy.path_part == "{proxy+}"
    error_message = "the IAM routes are /iam/{proxy+}"
  }

  assert {
    condition     = aws_api_gateway_method.iam.authorization == "AWS_IAM" && aws_api_gateway_method.iam.http_method == "ANY" && !aws_api_gateway_method.iam.api_key_required
    error_message = "the /iam routes are authorized by API Gateway's SigV4 check (AWS_IAM), without API keys"
  }

  assert {
    condition     = alltrue([for m in values(aws_api_gateway_method.route) : m.authorization == "NONE" && m.api_key_required])
    error_message = "the API-key routes keep the key as the only credential"
  }

  assert {
    condition     = aws_api_gateway_integration.iam.type == "AWS_PROXY" && aws_api_gateway_integration.iam.uri == var.function_invoke_arn
    error_message = "the /iam routes are served by the api Lambda"
  }
}

run "one_key_and_usage_plan_per_tenant" {
  command = plan

  assert {
    condition     = length(aws_api_gateway_api_key.tenant) == 3 && length(aws_api_gateway_usage_plan.tenant) == 3 && length(aws_api_gateway_usage_plan_key.tenant) == 3
    error_message = "expected one API key, usage plan and binding per tenant"
  }

  assert {
    condition     = aws_api_gateway_usage_plan.tenant["analytics"].throttle_settings[0].rate_limit == 30 && aws_api_gateway_usage_plan.tenant["analytics"].throttle_settings[0].burst_limit == 60
    error_message = "the usage plan must carry the tenant's rate and burst"
  }

  assert {
    condition     = aws_api_gateway_usage_plan.tenant["finance"].throttle_settings[0].rate_limit == 10 && aws_api_gateway_usage_plan.tenant["finance"].throttle_settings[0].burst_limit == 20
    error_message = "defaults are 10 requests/s with a burst of 20"
  }

  assert {
    condition     = length(aws_api_gateway_usage_plan.tenant["marketing"].quota_settings) == 1 && length(aws_api_gateway_usage_plan.tenant["finance"].quota_settings) == 0
    error_message = "only tenants with api_quota_per_day get a quota"
  }

  assert {
    condition     = one(aws_api_gateway_usage_plan.tenant["finance"].api_stages).stage == "v1"
    error_message = "usage plans must be bound to the API stage"
  }
}

run "deployment_is_triggered_by_a_hash_of_the_routes" {
  command = plan

  variables {
    api_stage_name = "v2"
  }

  assert {
    condition     = length(aws_api_gateway_deployment.this.triggers["redeployment"]) == 40
    error_message = "the deployment must be triggered by a sha1 of the route configuration"
  }
}

run "rejects_zero_rate" {
  command = plan

  variables {
    tenants = { x = { api_rate_limit = 0 } }
  }

  expect_failures = [var.tenants]
}
