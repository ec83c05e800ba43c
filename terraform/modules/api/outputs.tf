output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Name of the API Gateway stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Invoke URL of the stage (on LocalStack use /_aws/execute-api/<rest_api_id>/<stage_name>/... instead)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "execution_arn" {
  description = "Execution ARN of the REST API."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "api_key_ids" {
  description = "API key id per tenant (the tenant's identity in the configuration object)."
  value       = { for tenant, k in aws_api_gateway_api_key.tenant : tenant => k.id }
}

output "api_key_values" {
  description = "API key value per tenant (send as x-api-key)."
  value       = { for tenant, k in aws_api_gateway_api_key.tenant : tenant => k.value }
  sensitive   = true
}

output "usage_plan_ids" {
  description = "Usage plan id per tenant."
  value       = { for tenant, p in aws_api_gateway_usage_plan.tenant : tenant => p.id }
}

output "access_log_group_name" {
  description = "Log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "rest_api_name" {
  description = "Name of the REST API."
  value       = aws_api_gateway_rest_api.this.name
}

output "athena_path" {
  description = "Path of the Athena-compatible endpoint under the invoke URL (an Athena client's endpoint_url is <invoke_url>/athena)."
  value       = "/${aws_api_gateway_resource.athena.path_part}"
}
