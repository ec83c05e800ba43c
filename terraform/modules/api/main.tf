locals {
  name = "${var.name_prefix}-${var.stage}-api"

  # The tenant API of docs/CONTRACTS.md; every route is an AWS_PROXY call of the api Lambda.
  routes = {
    "POST /queries"             = "queries"
    "GET /queries"              = "queries"
    "GET /queries/{id}"         = "query"
    "DELETE /queries/{id}"      = "query"
    "GET /queries/{id}/results" = "results"
    "GET /usage"                = "usage"
    "POST /athena/query"        = "athena_query"
  }

  resource_ids = {
    queries      = aws_api_gateway_resource.queries.id
    query        = aws_api_gateway_resource.query.id
    results      = aws_api_gateway_resource.results.id
    usage        = aws_api_gateway_resource.usage.id
    athena_query = aws_api_gateway_resource.athena_query.id
  }

  access_log_format = jsonencode({
    requestId      = "$context.requestId"
    apiKeyId       = "$context.identity.apiKeyId"
    sourceIp       = "$context.identity.sourceIp"
    requestTime    = "$context.requestTimeEpoch"
    httpMethod     = "$context.httpMethod"
    resourcePath   = "$context.resourcePath"
    status         = "$context.status"
    responseLength = "$context.responseLength"
    latencyMs      = "$context.responseLatency"
    integrationMs  = "$context.integrationLatency"
    error          = "$context.error.message"
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.name
  description = "Athena fair-share tenant API (${var.stage}); the tenant is the API key, or the SigV4 caller on /iam."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "queries" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "queries"
}

resource "aws_api_gateway_resource" "query" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.queries.id
  path_part   = "{id}"
}

resource "aws_api_gateway_resource" "results" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.query.id
  path_part   = "results"
}

resource "aws_api_gateway_resource" "usage" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "usage"
}

resource "aws_api_gateway_resource" "athena" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "athena"
}

resource "aws_api_gateway_resource" "athena_query" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.athena.id
  path_part   = "query"
}

# The same routes under /iam for IAM principals: API Gateway verifies the SigV4 signature (AWS_IAM) and
# passes the caller's ARN, which the api Lambda maps to a tenant (its `principals`) and records as the user.
resource "aws_api_gateway_resource" "iam" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "iam"
}

resource "aws_api_gateway_resource" "iam_proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.iam.id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "iam" {
  #checkov:skip=CKV2_AWS_53:The api Lambda validates every body with pydantic and answers the contract's {"error": {...}} shape; a gateway validator would answer in another shape.
  #checkov:skip=CKV2_AWS_70:AWS_IAM is the authorizer: API Gateway checks each request's SigV4 signature and the caller's execute-api:Invoke permission.
  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = aws_api_gateway_resource.iam_proxy.id
  http_method      = "ANY"
  authorization    = "AWS_IAM"
  api_key_required = false
}

resource "aws_api_gateway_integration" "iam" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.iam_proxy.id
  http_method             = aws_api_gateway_method.iam.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.function_invoke_arn
}

resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV2_AWS_53:The api Lambda validates every body with pydantic and answers the contract's {"error": {...}} shape; a gateway validator would answer in another shape.
  for_each = local.routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = local.resource_ids[each.value]
  http_method      = split(" ", each.key)[0]
  authorization    = "NONE"
  api_key_required = true
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = local.resource_ids[each.value]
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.function_invoke_arn
}

# Athena's own API (AWS JSON 1.1) for unchanged Athena clients: they sign with SigV4 and send no x-api-key,
# so the method takes no API key and the api Lambda authenticates each request itself (the signature over
# the tenant's API key id and value, the key's enabled flag and its usage plan's rate; docs/CONTRACTS.md).
resource "aws_api_gateway_method" "athena" {
  #checkov:skip=CKV_AWS_59:Athena clients sign with SigV4 and cannot send an API key; the api Lambda verifies the signature against the tenant's API key and refuses unsigned requests (fairshare.services.sigv4).
  #checkov:skip=CKV2_AWS_53:The body is Athena's JSON 1.1 protocol, validated against botocore's Athena model by the api Lambda, which answers in Athena's error shape.
  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = aws_api_gateway_resource.athena.id
  http_method      = "POST"
  authorization    = "NONE"
  api_key_required = false
}

resource "aws_api_gateway_integration" "athena" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.athena.id
  http_method             = aws_api_gateway_method.athena.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.function_invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Tenant API of ${var.stage}"

  # Redeploy whenever a route, a method or an integration changes.
  triggers = {
    redeployment = sha1(jsonencode([
      local.routes,
      local.resource_ids,
      [for k, m in aws_api_gateway_method.route : [k, m.id, m.api_key_required, m.authorization]],
      [for k, i in aws_api_gateway_integration.route : [k, i.id, i.type, i.uri]],
      [aws_api_gateway_method.iam.id, aws_api_gateway_method.iam.authorization, aws_api_gateway_integration.iam.id, aws_api_gateway_integration.iam.uri],
      [aws_api_gateway_method.athena.id, aws_api_gateway_method.athena.api_key_required, aws_api_gateway_integration.athena.id, aws_api_gateway_integration.athena.uri],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_integration.route, aws_api_gateway_integration.iam, aws_api_gateway_integration.athena]
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; the stage key is used when var.kms_key_arn is set (its policy must allow logs.<region>.amazonaws.com).
  name              = "/aws/apigateway/${local.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per tenant and reflect live queue state; caching would serve stale positions and statuses.
  #checkov:skip=CKV2_AWS_29:Every method requires an API key throttled by its usage plan (POST /athena: a SigV4 signature by that key, throttled by the api Lambda at the plan's rate); a WAF web ACL is an account-level control attached by the security baseline, not per stage.
  #checkov:skip=CKV2_AWS_51:Tenants call over public TLS with API keys; there is no private backend that needs a client certificate (the integration is Lambda).
  #checkov:skip=CKV2_AWS_4:Execution logging needs the account-wide API Gateway CloudWatch role; access logging is always on and the api Lambda logs every request.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.api_stage_name
  xray_tracing_enabled = var.xray_tracing

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowTenantApi"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${var.api_stage_name}/*"
}

resource "aws_api_gateway_api_key" "tenant" {
  for_each = var.tenants

  name        = "${local.name}-${each.key}"
  description = "API key of tenant ${each.key}: its id is the tenant's identity (requestContext.identity.apiKeyId)."
  enabled     = true
  tags        = merge(var.tags, { tenant = each.key })
}

resource "aws_api_gateway_usage_plan" "tenant" {
  for_each = var.tenants

  name        = "${local.name}-${each.key}"
  description = "Throttle of tenant ${each.key}"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = each.value.api_rate_limit
    burst_limit = each.value.api_burst_limit
  }

  dynamic "quota_settings" {
    for_each = each.value.api_quota_per_day == null ? [] : [each.value.api_quota_per_day]
    content {
      limit  = quota_settings.value
      period = "DAY"
    }
  }

  tags = merge(var.tags, { tenant = each.key })
}

resource "aws_api_gateway_usage_plan_key" "tenant" {
  for_each = var.tenants

  key_id        = aws_api_gateway_api_key.tenant[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.tenant[each.key].id
}
