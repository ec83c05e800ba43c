variable "stage" {
  description = <<-EOT
    The stage, as its stage.auto.tfvars declares it: everything a stage decides but its tenants. The stage
    roots pass it through untyped, so this type and these rules are the only ones. name (dev, stg, prod,
    local; the configuration object's rule ^[a-z][a-z0-9-]{0,15}$); account_id, region, deploy_role_name
    (read by the real stages' provider: the account and the role Terraform assumes in it; null on local);
    name_prefix (resources are "<name_prefix>-<name>-<what>", "fairshare"); pools (Athena's quota pools of
    the account and region: quota, headroom = slots left to users outside the platform, and the AIMD
    settings min_limit, decrease_factor, recovery_interval_s); scheduler (platform-wide settings of the
    configuration object, defaults as in lambda_src/fairshare/config.py); extra_environment (of every
    Lambda; the local stage sets AWS_ENDPOINT_URL); kms_key_arn (customer-managed key for queues, tables,
    bucket, results and the alarm topic; null = AWS-managed encryption and a dedicated key for the alarm
    topic); max_receive_count (receives before a message moves to its DLQ, both queues); function_timeouts
    and function_memory_sizes (seconds and MB per function: api, dispatcher, completion, redrive; missing
    keys keep the functions module's defaults); dispatcher_reserved_concurrency (-1 = unreserved);
    log_retention_days (Lambda and API access logs); log_level (POWERTOOLS_LOG_LEVEL); api_stage_name (path
    segment of the invoke URL); dispatcher_schedule and redrive_schedule (the tick and the DLQ redrive);
    alarm_emails (subscribed to the alarm topic); throttle_alarm_threshold (quota throttles in 5 minutes);
    queued_age_slo_seconds (SLO of the oldest queued query's age); force_destroy (workgroups and results
    bucket go with their content: true for dev/local, false for prod); deletion_protection (of the ledger
    tables); tags (of every resource, merged with stage, service and managed-by).
  EOT
  type = object({
    name             = string
    account_id       = optional(string)
    region           = optional(string)
    deploy_role_name = optional(string)
    name_prefix      = optional(string, "fairshare")
    pools = optional(object({
      DML = object({
        quota               = number
        headroom            = optional(number, 0)
        min_limit           = optional(number, 1)
        decrease_factor     = optional(number, 0.95)
        recovery_interval_s = optional(number, 5)
      })
      DDL = object({
        quota               = number
        headroom            = optional(number, 0)
        min_limit           = optional(number, 1)
        decrease_factor     = optional(number, 0.95)
        recovery_interval_s = optional(number, 5)
      })
      }), {
      DML = { quota = 200, headroom = 10 }
      DDL = { quota = 20, headroom = 2 }
    })
    scheduler = optional(object({
      start_rate_per_s       = optional(number, 20)
      start_burst            = optional(number, 80)
      event_grace_s          = optional(number, 120)
      presign_expiry_s       = optional(number, 900)
      results_page_size      = optional(number, 100)
      max_transient_attempts = optional(number, 5)
      query_ttl_days         = optional(number, 90)
      redrive_max_per_run    = optional(number, 100)
      redrive_rate_per_s     = optional(number, 10)
      share_policy           = optional(string, "fair_share")
      share_half_life_s      = optional(number, 3600)
    }), {})
    extra_environment               = optional(map(string), {})
    kms_key_arn                     = optional(string)
    max_receive_count               = optional(number, 5)
    function_timeouts               = optional(map(number), {})
    function_memory_sizes           = optional(map(number), {})
    dispatcher_reserved_concurrency = optional(number, 2)
    log_retention_days              = optional(number, 365)
    log_level                       = optional(string, "INFO")
    api_stage_name                  = optional(string, "v1")
    dispatcher_schedule             = optional(string, "rate(1 minute)")
    redrive_schedule                = optional(string, "rate(5 minutes)")
    alarm_emails                    = optional(list(string), [])
    throttle_alarm_threshold        = optional(number, 20)
    queued_age_slo_seconds          = optional(number, 900)
    force_destroy                   = optional(bool, true)
    deletion_protection             = optional(bool, false)
    tags                            = optional(map(string), {})
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.stage.name))
    error_message = "stage.name must match ^[a-z][a-z0-9-]{0,15}$."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.stage.name_prefix))
    error_message = "stage.name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }

  validation {
    condition     = var.stage.account_id == null || can(regex("^[0-9]{12}$", var.stage.account_id))
    error_message = "stage.account_id must be 12 digits (the provider refuses any other account)."
  }

  validation {
    condition     = alltrue([for p in [var.stage.pools.DML, var.stage.pools.DDL] : p.quota >= 1 && p.headroom >= 0 && p.min_limit >= 1 && p.quota - p.headroom >= p.min_limit])
    error_message = "Each pool needs quota >= 1 and quota - headroom >= min_limit >= 1."
  }

  validation {
    condition     = alltrue([for p in [var.stage.pools.DML, var.stage.pools.DDL] : p.decrease_factor > 0 && p.decrease_factor < 1 && p.recovery_interval_s > 0])
    error_message = "decrease_factor must be in (0, 1) and recovery_interval_s > 0."
  }

  validation {
    condition     = contains(["fair_share", "weighted_fair"], var.stage.scheduler.share_policy) && var.stage.scheduler.share_half_life_s > 0
    error_message = "share_policy is fair_share (by service received) or weighted_fair (by running count), and share_half_life_s > 0."
  }

  validation {
    condition     = var.stage.scheduler.start_rate_per_s > 0 && var.stage.scheduler.start_burst >= 1 && var.stage.scheduler.presign_expiry_s >= 1 && var.stage.scheduler.presign_expiry_s <= 604800 && var.stage.scheduler.results_page_size >= 1 && var.stage.scheduler.results_page_size <= 1000
    error_message = "start_rate_per_s > 0, start_burst >= 1, presign_expiry_s 1-604800, results_page_size 1-1000."
  }
}

variable "tenants" {
  description = <<-EOT
    The teams sharing Athena, name => policy. Adding a tenant here creates its workgroup, execution role, API key,
    usage plan and budget alarm, and puts it in the configuration object. Names match ^[a-z0-9][a-z0-9_-]{0,39}$ (they are
    part of workgroup, API key and alarm names); counts and byte sizes are whole numbers. Fields (all optional):
    weight (share relative to others, 1), max_concurrency (hard cap, 10), max_queued (beyond it 429, 1000),
    daily_bytes_budget (bytes per UTC day, null = none), budget_action ("hold" | "reject"), allow_ddl (false),
    priority_levels (1-10, 3), aging_seconds (wait that raises priority by one, null = no aging),
    max_aging_boost (0-9, 1), bytes_scanned_cutoff_per_query (>= 10485760, 10 GiB), databases (Glue databases
    its execution role reaches and its statements may name; the first is the default of POST /athena/query),
    data_locations (S3 ARNs its execution role reads),
    api_rate_limit (requests/s, 10), api_burst_limit (20), api_quota_per_day (null = none),
    notify_topic_arn (an SNS topic of the team for completions and its budget alarm, null = none),
    principals (IAM principal ARN patterns, fnmatch globs of one account, whose SigV4-signed calls on the
    API's /iam routes act as this tenant and are recorded as its users; [] = API keys only).
  EOT
  type = map(object({
    weight                         = optional(number, 1)
    max_concurrency                = optional(number, 10)
    max_queued                     = optional(number, 1000)
    daily_bytes_budget             = optional(number)
    budget_action                  = optional(string, "hold")
    allow_ddl                      = optional(bool, false)
    priority_levels                = optional(number, 3)
    aging_seconds                  = optional(number)
    max_aging_boost                = optional(number, 1)
    bytes_scanned_cutoff_per_query = optional(number, 10737418240)
    databases                      = optional(list(string), ["default"])
    data_locations                 = optional(list(string), [])
    api_rate_limit                 = optional(number, 10)
    api_burst_limit                = optional(number, 20)
    api_quota_per_day              = optional(number)
    notify_topic_arn               = optional(string)
    principals                     = optional(list(string), [])
  }))

  validation {
    condition     = length(var.tenants) >= 1
    error_message = "At least one tenant is needed."
  }

  # One validation per field, written as the bounds of lambda_src/fairshare/domain/tenant_rules.py, which
  # the configuration object's model uses; tests/terraform/test_tenant_rules.py checks that they are equal,
  # and tests/tenant_rules.tftest.hcl (generated from tests/terraform/tenant_policy_cases.json) that both sides
  # accept and reject the same cases.
  validation {
    condition     = alltrue([for name, _ in var.tenants : can(regex("^[a-z0-9][a-z0-9_-]{0,39}$", name))])
    error_message = "Tenant names must match ^[a-z0-9][a-z0-9_-]{0,39}$: 1-40 lowercase letters, digits, _ or -, starting with a letter or digit (they become part of workgroup, API key, usage plan and alarm names)."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.weight > 0])
    error_message = "weight must be > 0."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.max_concurrency >= 1 && floor(t.max_concurrency) == t.max_concurrency])
    error_message = "max_concurrency must be a whole number >= 1."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.max_queued >= 1 && floor(t.max_queued) == t.max_queued])
    error_message = "max_queued must be a whole number >= 1."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.daily_bytes_budget == null || try(t.daily_bytes_budget >= 1 && floor(t.daily_bytes_budget) == t.daily_bytes_budget, false)])
    error_message = "daily_bytes_budget must be null (no budget) or a whole number >= 1."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : contains(["hold", "reject"], t.budget_action)])
    error_message = "budget_action must be \"hold\" or \"reject\"."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.priority_levels >= 1 && t.priority_levels <= 10 && floor(t.priority_levels) == t.priority_levels])
    error_message = "priority_levels must be a whole number within 1-10."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.aging_seconds == null || try(t.aging_seconds > 0, false)])
    error_message = "aging_seconds must be null (no aging) or > 0."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.max_aging_boost >= 0 && t.max_aging_boost <= 9 && floor(t.max_aging_boost) == t.max_aging_boost])
    error_message = "max_aging_boost must be a whole number within 0-9."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.bytes_scanned_cutoff_per_query >= 10485760 && floor(t.bytes_scanned_cutoff_per_query) == t.bytes_scanned_cutoff_per_query])
    error_message = "bytes_scanned_cutoff_per_query must be a whole number of bytes, at least 10485760 (Athena's minimum)."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.databases) >= 1])
    error_message = "Each tenant needs at least one database."
  }

  # The configuration object's PRINCIPAL_PATTERN (lambda_src/fairshare/config.py).
  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for p in t.principals : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z*-]+/\\S+$", p))]]))
    error_message = "principals must be IAM or STS ARN patterns of one account, e.g. arn:aws:iam::123456789012:role/analytics-*."
  }
}

variable "package_path" {
  description = "Path of the Lambda zip built by scripts/package_lambdas.py (.build/lambda/fairshare.zip)."
  type        = string
}
