output "invoke_url" {
  description = "Invoke URL of the tenant API."
  value       = module.platform.invoke_url
}

output "rest_api_id" {
  description = "Id of the tenant REST API."
  value       = module.platform.rest_api_id
}

output "api_stage_name" {
  description = "API Gateway stage name."
  value       = module.platform.api_stage_name
}

output "api_key_ids" {
  description = "API key id per tenant."
  value       = module.platform.api_key_ids
}

output "api_key_values" {
  description = "API key value per tenant (x-api-key)."
  value       = module.platform.api_key_values
  sensitive   = true
}

output "table_names" {
  description = "Ledger table names (queries, state)."
  value       = module.platform.table_names
}

output "queue_urls" {
  description = "Queue URLs (submissions, events and their DLQs)."
  value       = module.platform.queue_urls
}

output "function_names" {
  description = "Lambda function name per handler."
  value       = module.platform.function_names
}

output "results_bucket" {
  description = "Results bucket (and configuration object)."
  value       = module.platform.results_bucket
}

output "workgroup_names" {
  description = "Athena workgroup per tenant."
  value       = module.platform.workgroup_names
}

output "config_s3_uri" {
  description = "S3 URI of the configuration object."
  value       = module.platform.config_s3_uri
}

output "alarm_topic_arn" {
  description = "SNS topic of the stage's alarms."
  value       = module.platform.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the stage."
  value       = module.platform.dashboard_name
}

output "region" {
  description = "AWS region of the stage, for tools that call its tables and queues directly."
  value       = var.region
}
