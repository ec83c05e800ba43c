locals {
  queue_urls = {
    submissions     = module.submissions_queue.queue_url
    submissions_dlq = module.submissions_queue.dlq_url
    events          = module.events_queue.queue_url
    events_dlq      = module.events_queue.dlq_url
  }
  table_names = {
    queries = module.ledger.queries_table_name
    state   = module.ledger.state_table_name
  }
  config_s3_uri = "s3://${aws_s3_object.config.bucket}/${aws_s3_object.config.key}"
}

# The one object a stage root outputs (as `platform`; the API keys go separately, as a sensitive output):
# what the tools read to reach a stage (fairshare_tools.tooling.stage) and what an operator looks up.
output "stage_outputs" {
  description = "What a stage root outputs as `platform`: invoke_url, rest_api_id, api_stage_name, api_key_ids, table_names, queue_urls, function_names, results_bucket, workgroup_names, config_s3_uri, alarm_topic_arn, dashboard_name, region."
  value = {
    invoke_url      = module.api.invoke_url
    rest_api_id     = module.api.rest_api_id
    api_stage_name  = module.api.stage_name
    api_key_ids     = module.api.api_key_ids
    table_names     = local.table_names
    queue_urls      = local.queue_urls
    function_names  = module.functions.function_names
    results_bucket  = module.workgroups.bucket_name
    workgroup_names = module.workgroups.workgroup_names
    config_s3_uri   = local.config_s3_uri
    alarm_topic_arn = module.observability.alarm_topic_arn
    dashboard_name  = module.observability.dashboard_name
    region          = data.aws_region.current.name
  }
}

output "invoke_url" {
  description = "Invoke URL of the tenant API stage."
  value       = module.api.invoke_url
}

output "rest_api_id" {
  description = "Id of the tenant REST API (LocalStack: /_aws/execute-api/<id>/<stage>/...)."
  value       = module.api.rest_api_id
}

output "api_stage_name" {
  description = "API Gateway stage name."
  value       = module.api.stage_name
}

output "api_key_ids" {
  description = "API key id per tenant."
  value       = module.api.api_key_ids
}

output "api_key_values" {
  description = "API key value per tenant (x-api-key)."
  value       = module.api.api_key_values
  sensitive   = true
}

output "function_names" {
  description = "Lambda function name per handler."
  value       = module.functions.function_names
}

output "function_arns" {
  description = "Lambda function ARN per handler."
  value       = module.functions.function_arns
}

output "queue_urls" {
  description = "URLs of the submissions and athena-events queues and their DLQs."
  value       = local.queue_urls
}

output "queue_arns" {
  description = "ARNs of the submissions and athena-events queues and their DLQs."
  value = {
    submissions     = module.submissions_queue.queue_arn
    submissions_dlq = module.submissions_queue.dlq_arn
    events          = module.events_queue.queue_arn
    events_dlq      = module.events_queue.dlq_arn
  }
}

output "table_names" {
  description = "Ledger table names."
  value       = local.table_names
}

output "table_arns" {
  description = "Ledger table ARNs."
  value = {
    queries = module.ledger.queries_table_arn
    state   = module.ledger.state_table_arn
  }
}

output "results_bucket" {
  description = "Results bucket (also holds the configuration object)."
  value       = module.workgroups.bucket_name
}

output "workgroup_names" {
  description = "Athena workgroup per tenant."
  value       = module.workgroups.workgroup_names
}

output "workgroup_arns" {
  description = "Athena workgroup ARN per tenant."
  value       = module.workgroups.workgroup_arns
}

output "tenant_role_arns" {
  description = "Execution role ARN per tenant: its queries run, are read and are stopped as this role."
  value       = module.tenant_roles.role_arns
}

output "usage_plan_ids" {
  description = "Usage plan id per tenant."
  value       = module.api.usage_plan_ids
}

output "config_s3_uri" {
  description = "FAIRSHARE_CONFIG_S3_URI of the Lambdas."
  value       = local.config_s3_uri
}

output "config_document" {
  description = "The rendered configuration object (also usable inline as FAIRSHARE_CONFIG)."
  value       = local.config_document
}

output "alarm_topic_arn" {
  description = "SNS topic of the stage's alarms."
  value       = module.observability.alarm_topic_arn
}

output "alarm_names" {
  description = "The stage's alarms by purpose."
  value       = module.observability.alarm_names
}

output "dashboard_name" {
  description = "The stage's CloudWatch dashboard."
  value       = module.observability.dashboard_name
}

output "athena_state_rule_arn" {
  description = "EventBridge rule forwarding Athena state changes."
  value       = module.events.athena_state_rule_arn
}

output "names" {
  description = "The name of every stage-wide (not per-tenant) resource: what an operator looks for in the console."
  value = {
    rest_api          = module.api.rest_api_name
    api_access_logs   = module.api.access_log_group_name
    queues            = [module.submissions_queue.queue_name, module.events_queue.queue_name]
    dlqs              = [module.submissions_queue.dlq_name, module.events_queue.dlq_name]
    tables            = [module.ledger.queries_table_name, module.ledger.state_table_name]
    functions         = module.functions.function_names
    roles             = module.functions.role_names
    function_logs     = module.functions.log_group_names
    rules             = module.events.rule_names
    results_bucket    = module.workgroups.bucket_name
    alarm_topic       = module.observability.alarm_topic_name
    dashboard         = module.observability.dashboard_name
    configuration_uri = local.config_s3_uri
  }
}
