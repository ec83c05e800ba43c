data "aws_region" "current" {}

locals {
  prefix = "${var.stage.name_prefix}-${var.stage.name}"
  tags = merge(var.stage.tags, {
    stage      = var.stage.name
    service    = "athena-fairshare"
    managed-by = "terraform"
  })

  notify_topic_arns = distinct(compact([for t in values(var.tenants) : t.notify_topic_arn]))
}

module "workgroups" {
  source = "../workgroups"

  name_prefix   = var.stage.name_prefix
  stage         = var.stage.name
  tenants       = { for name, t in var.tenants : name => { bytes_scanned_cutoff_per_query = t.bytes_scanned_cutoff_per_query } }
  kms_key_arn   = var.stage.kms_key_arn
  force_destroy = var.stage.force_destroy
  tags          = local.tags
}

module "ledger" {
  source = "../ledger"

  name_prefix         = var.stage.name_prefix
  stage               = var.stage.name
  kms_key_arn         = var.stage.kms_key_arn
  deletion_protection = var.stage.deletion_protection
  tags                = local.tags
}

# Visibility timeouts are 6x the consumer's timeout (AWS's guidance for SQS event sources).
module "submissions_queue" {
  source = "../queues"

  name                       = "${local.prefix}-submissions"
  max_receive_count          = var.stage.max_receive_count
  visibility_timeout_seconds = 6 * module.functions.timeouts["dispatcher"]
  kms_key_arn                = var.stage.kms_key_arn
  tags                       = local.tags
}

module "events_queue" {
  source = "../queues"

  name                        = "${local.prefix}-athena-events"
  max_receive_count           = var.stage.max_receive_count
  visibility_timeout_seconds  = 6 * module.functions.timeouts["completion"]
  kms_key_arn                 = var.stage.kms_key_arn
  allow_eventbridge_rule_arns = [module.events.athena_state_rule_arn]
  tags                        = local.tags
}

module "functions" {
  source = "../functions"

  name_prefix                     = var.stage.name_prefix
  stage                           = var.stage.name
  package_path                    = var.package_path
  timeouts                        = var.stage.function_timeouts
  memory_sizes                    = var.stage.function_memory_sizes
  dispatcher_reserved_concurrency = var.stage.dispatcher_reserved_concurrency
  log_retention_days              = var.stage.log_retention_days
  log_level                       = var.stage.log_level
  extra_environment               = var.stage.extra_environment

  config_bucket_name = module.workgroups.bucket_name
  config_object_key  = aws_s3_object.config.key
  # md5 of the rendered document: a change of the configuration makes new execution environments.
  config_version = md5(aws_s3_object.config.content)

  queries_table_arn     = module.ledger.queries_table_arn
  queries_index_arns    = module.ledger.queries_index_arns
  state_table_arn       = module.ledger.state_table_arn
  submissions_queue_arn = module.submissions_queue.queue_arn
  submissions_dlq_arn   = module.submissions_queue.dlq_arn
  events_queue_arn      = module.events_queue.queue_arn
  events_dlq_arn        = module.events_queue.dlq_arn
  tenant_role_arns      = values(module.tenant_roles.role_arns)
  notify_topic_arns     = local.notify_topic_arns
  kms_key_arn           = var.stage.kms_key_arn
  tags                  = local.tags
}

# One execution role per tenant: the functions act as the query's tenant for every Athena call (I-4).
module "tenant_roles" {
  source = "../tenant_roles"

  name_prefix = var.stage.name_prefix
  stage       = var.stage.name
  tenants = {
    for name, t in var.tenants : name => {
      databases      = t.databases
      data_locations = t.data_locations
      workgroup_arn  = module.workgroups.workgroup_arns[name]
    }
  }
  trusted_role_arns  = [for fn in ["api", "dispatcher", "completion"] : module.functions.role_arns[fn]]
  results_bucket_arn = module.workgroups.bucket_arn
  results_prefix     = module.workgroups.results_prefix
  kms_key_arn        = var.stage.kms_key_arn
  tags               = local.tags
}

module "api" {
  source = "../api"

  name_prefix    = var.stage.name_prefix
  stage          = var.stage.name
  api_stage_name = var.stage.api_stage_name
  tenants = {
    for name, t in var.tenants : name => {
      api_rate_limit    = t.api_rate_limit
      api_burst_limit   = t.api_burst_limit
      api_quota_per_day = t.api_quota_per_day
    }
  }
  function_name       = module.functions.function_names["api"]
  function_invoke_arn = module.functions.invoke_arns["api"]
  log_retention_days  = var.stage.log_retention_days
  kms_key_arn         = var.stage.kms_key_arn
  tags                = local.tags
}

module "events" {
  source = "../events"

  name_prefix              = var.stage.name_prefix
  stage                    = var.stage.name
  dispatcher_function_name = module.functions.function_names["dispatcher"]
  dispatcher_function_arn  = module.functions.function_arns["dispatcher"]
  redrive_function_name    = module.functions.function_names["redrive"]
  redrive_function_arn     = module.functions.function_arns["redrive"]
  events_queue_arn         = module.events_queue.queue_arn
  workgroup_names          = values(module.workgroups.workgroup_names)
  dispatcher_schedule      = var.stage.dispatcher_schedule
  redrive_schedule         = var.stage.redrive_schedule
  tags                     = local.tags
}

module "observability" {
  source = "../observability"

  name_prefix              = var.stage.name_prefix
  stage                    = var.stage.name
  region                   = data.aws_region.current.name
  dispatcher_function_name = module.functions.function_names["dispatcher"]
  dml_quota                = var.stage.pools.DML.quota
  dlq_names = {
    submissions   = module.submissions_queue.dlq_name
    athena-events = module.events_queue.dlq_name
  }
  queue_names = {
    submissions   = module.submissions_queue.queue_name
    athena-events = module.events_queue.queue_name
  }
  tenants = {
    for name, t in var.tenants : name => {
      workgroup          = module.workgroups.workgroup_names[name]
      daily_bytes_budget = t.daily_bytes_budget
      notify_topic_arn   = t.notify_topic_arn
    }
  }
  throttle_alarm_threshold = var.stage.throttle_alarm_threshold
  queued_age_slo_seconds   = var.stage.queued_age_slo_seconds
  kms_key_arn              = var.stage.kms_key_arn
  alarm_emails             = var.stage.alarm_emails
  tags                     = local.tags
}
