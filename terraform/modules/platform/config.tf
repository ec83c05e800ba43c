# The one place the configuration object is rendered and written. Its shape is docs/CONTRACTS.md
# "Configuration object" (lambda_src/fairshare/config.py, extra="forbid"): render exactly these keys.
locals {
  config_object_key = "config/fairshare.json"

  config_document = {
    stage                 = var.stage.name
    region                = data.aws_region.current.name
    queries_table         = module.ledger.queries_table_name
    state_table           = module.ledger.state_table_name
    submissions_queue_url = module.submissions_queue.queue_url
    submissions_dlq_url   = module.submissions_queue.dlq_url
    events_queue_url      = module.events_queue.queue_url
    events_dlq_url        = module.events_queue.dlq_url
    results_bucket        = module.workgroups.bucket_name
    results_prefix        = module.workgroups.results_prefix
    pools = {
      for pool, p in var.stage.pools : pool => {
        quota               = p.quota
        headroom            = p.headroom
        min_limit           = p.min_limit
        decrease_factor     = p.decrease_factor
        recovery_interval_s = p.recovery_interval_s
      }
    }
    tenants = {
      for name, t in var.tenants : name => {
        weight                         = t.weight
        max_concurrency                = t.max_concurrency
        max_queued                     = t.max_queued
        daily_bytes_budget             = t.daily_bytes_budget
        budget_action                  = t.budget_action
        allow_ddl                      = t.allow_ddl
        priority_levels                = t.priority_levels
        aging_seconds                  = t.aging_seconds
        max_aging_boost                = t.max_aging_boost
        workgroup                      = module.workgroups.workgroup_names[name]
        databases                      = t.databases
        api_key_id                     = module.api.api_key_ids[name]
        execution_role_arn             = module.tenant_roles.role_arns[name]
        notify_topic_arn               = t.notify_topic_arn
        principals                     = t.principals
        bytes_scanned_cutoff_per_query = t.bytes_scanned_cutoff_per_query
      }
    }
    start_rate_per_s       = var.stage.scheduler.start_rate_per_s
    start_burst            = var.stage.scheduler.start_burst
    event_grace_s          = var.stage.scheduler.event_grace_s
    presign_expiry_s       = var.stage.scheduler.presign_expiry_s
    results_page_size      = var.stage.scheduler.results_page_size
    max_transient_attempts = var.stage.scheduler.max_transient_attempts
    query_ttl_days         = var.stage.scheduler.query_ttl_days
    redrive_max_per_run    = var.stage.scheduler.redrive_max_per_run
    redrive_rate_per_s     = var.stage.scheduler.redrive_rate_per_s
    share_policy           = var.stage.scheduler.share_policy
    share_half_life_s      = var.stage.scheduler.share_half_life_s
  }
}

resource "aws_s3_object" "config" {
  bucket       = module.workgroups.bucket_name
  key          = local.config_object_key
  content      = jsonencode(local.config_document)
  content_type = "application/json"
  tags         = local.tags
}
