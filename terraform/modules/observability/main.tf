data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  prefix        = "${var.name_prefix}-${var.stage}"
  create_key    = var.kms_key_arn == null
  topic_key     = local.create_key ? aws_kms_key.alarms[0].arn : var.kms_key_arn
  budgeted      = { for name, t in var.tenants : name => t if t.daily_bytes_budget != null }
  active_alarm  = ceil(var.dml_quota * var.active_queries_alarm_ratio)
  alarm_actions = [aws_sns_topic.alarms.arn]

  # Metrics Insights: the Lambdas add dimensions (tenant, service) beside stage; a query filtered on
  # stage sees every series, where a plain alarm would need the exact dimension set.
  insights = {
    throttles  = "SELECT SUM(ThrottlingErrorCount) FROM AthenaFairshare WHERE stage = '${var.stage}'"
    queued_age = "SELECT MAX(OldestQueuedAgeSeconds) FROM AthenaFairshare WHERE stage = '${var.stage}'"
  }
}

# CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, hence a key of our own.
resource "aws_kms_key" "alarms" {
  count = local.create_key ? 1 : 0

  description             = "${local.prefix} alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchPublishesAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "alarms" {
  count = local.create_key ? 1 : 0

  name          = "alias/${local.prefix}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = local.topic_key
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = var.dlq_names

  alarm_name          = "${local.prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages in ${each.value}: work failed ${each.key == "submissions" ? "to reach the dispatcher" : "to complete"} after every retry (I-1). Read the dispatcher/completion logs for the message ids, fix the cause, then run the redrive Lambda (or wait for its schedule); never purge, the messages are tenants' queries."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "quarantine" {
  for_each = var.quarantine_names

  alarm_name          = "${local.prefix}-${each.key}-quarantine-not-empty"
  alarm_description   = "Poison messages in ${each.value}: dead letters of ${each.key} that no retry can help (not JSON, or naming no query the ledger holds). Redrive parked them and never resends them. Read one with its attributes (reason, source_queue, message_id), find what sent it, fix that; then delete the message. Kept 14 days."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  alarm_name          = "${local.prefix}-athena-throttles"
  alarm_description   = "More than ${var.throttle_alarm_threshold} Athena quota throttles (TooManyRequestsException) in 5 minutes: load outside the platform shares the active-query quota. The effective limit already backs off (AIMD, I-7); check the dashboard's effective limit and who else runs queries in the account, then raise the pool headroom or request a higher quota."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.throttle_alarm_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "throttles"
    expression  = local.insights.throttles
    period      = 300
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queued_age" {
  alarm_name          = "${local.prefix}-oldest-queued-age"
  alarm_description   = "A queued query has waited more than ${var.queued_age_slo_seconds} s (SLO). The dashboard's queue-age widget names the tenant and why it waits: tenant_cap means its max_concurrency is too tight for its load; budget_hold, its daily bytes budget is spent; throttle_backoff, foreign load shares the quota (see the throttles alarm; raise headroom or the quota); pool_full, the platform's own load fills quota - headroom (ask for a higher quota); start_rate, the start rate limit. No datapoints while queries wait means the dispatcher is failing (see its Errors alarm and logs)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queued_age_slo_seconds
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "queued_age"
    expression  = local.insights.queued_age
    period      = 60
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dispatcher_errors" {
  alarm_name          = "${local.prefix}-dispatcher-errors"
  alarm_description   = "The dispatcher Lambda ${var.dispatcher_function_name} failed: admissions may stall. Read its log group for the exception; submissions stay queued (I-1) and are admitted once it works again."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = var.dispatcher_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "tenant_budget" {
  for_each = local.budgeted

  alarm_name          = "${local.prefix}-${each.key}-daily-bytes-budget"
  alarm_description   = "Tenant ${each.key} scanned more than its daily budget of ${each.value.daily_bytes_budget} bytes in workgroup ${each.value.workgroup} (last 24 h). The platform holds or rejects its new queries per budget_action until the next UTC day; tell the team, and raise daily_bytes_budget in tenants.auto.tfvars only if the spend is intended."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.daily_bytes_budget
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = compact([aws_sns_topic.alarms.arn, each.value.notify_topic_arn])

  # Athena publishes ProcessedBytes per WorkGroup with QueryState and QueryType; the larger of the
  # WorkGroup-only series and the sum over the billed DML states counts the day's scan either way.
  metric_query {
    id          = "scanned"
    expression  = "MAX([FILL(workgroup, 0), FILL(succeeded, 0) + FILL(failed, 0) + FILL(canceled, 0)])"
    label       = "bytes scanned by ${each.key} (24 h)"
    return_data = true
  }

  metric_query {
    id = "workgroup"
    metric {
      namespace   = "AWS/Athena"
      metric_name = "ProcessedBytes"
      dimensions  = { WorkGroup = each.value.workgroup }
      stat        = "Sum"
      period      = 86400
    }
  }

  dynamic "metric_query" {
    for_each = { succeeded = "SUCCEEDED", failed = "FAILED", canceled = "CANCELED" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/Athena"
        metric_name = "ProcessedBytes"
        dimensions  = { WorkGroup = each.value.workgroup, QueryState = metric_query.value, QueryType = "DML" }
        stat        = "Sum"
        period      = 86400
      }
    }
  }

  tags = merge(var.tags, { tenant = each.key })
}

resource "aws_cloudwatch_metric_alarm" "active_queries" {
  alarm_name          = "${local.prefix}-active-dml-near-quota"
  alarm_description   = "Active DML queries in the account reached ${local.active_alarm} of the quota ${var.dml_quota}: new starts will be throttled. If the platform's running count is low, other users fill the quota (raise headroom); else request a quota increase."
  namespace           = "AWS/Usage"
  metric_name         = "ResourceCount"
  dimensions          = { Service = "Athena", Resource = "ActiveQueryCount", Type = "Resource", Class = "DML" }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = local.active_alarm
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # AWS/Usage emits nothing while the account is idle.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}

locals {
  search = {
    for metric, stat in {
      QueuedQueries        = "Maximum"
      RunningQueries       = "Maximum"
      EffectiveLimit       = "Minimum"
      ThrottlingErrorCount = "Sum"
      AdmissionWaitMs      = "p90"
      # One series per waiting tenant and reason: the dimension says why it waits.
      OldestQueuedAgeSeconds = "Maximum"
    } : metric => "SEARCH('{AthenaFairshare} MetricName=\"${metric}\" stage=\"${var.stage}\"', '${stat}', 60)"
  }

  dashboard_widgets = [
    { title = "Queued queries per tenant", metrics = [[{ expression = local.search.QueuedQueries, id = "queued" }]] },
    { title = "Running queries per tenant", metrics = [[{ expression = local.search.RunningQueries, id = "running" }]] },
    { title = "Effective limit per pool (AIMD)", metrics = [[{ expression = local.search.EffectiveLimit, id = "limit" }]] },
    { title = "Athena quota throttles", metrics = [[{ expression = local.search.ThrottlingErrorCount, id = "throttles" }]] },
    { title = "Admission wait (p90, ms)", metrics = [[{ expression = local.search.AdmissionWaitMs, id = "wait" }]] },
    { title = "Oldest queued age per tenant and reason (s)", metrics = [[{ expression = local.search.OldestQueuedAgeSeconds, id = "age" }]], annotations = { horizontal = [{ label = "SLO", value = var.queued_age_slo_seconds }] } },
    {
      title   = "DLQ depth"
      metrics = [for label, q in var.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = label, stat = "Maximum" }]]
    },
    {
      title   = "Quarantined poison messages"
      metrics = [for label, q in var.quarantine_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = label, stat = "Maximum" }]]
    },
    {
      title       = "Active DML queries (account) vs quota"
      metrics     = [["AWS/Usage", "ResourceCount", "Service", "Athena", "Resource", "ActiveQueryCount", "Type", "Resource", "Class", "DML", { stat = "Maximum", label = "active DML" }]]
      annotations = { horizontal = [{ label = "quota", value = var.dml_quota }] }
    },
    {
      title   = "Bytes scanned per tenant workgroup"
      metrics = [for name, t in var.tenants : ["AWS/Athena", "ProcessedBytes", "WorkGroup", t.workgroup, { label = name, stat = "Sum" }]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "stage" {
  dashboard_name = "${local.prefix}-fairshare"
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = merge(
          { title = w.title, region = var.region, view = "timeSeries", stacked = false, period = 60, metrics = w.metrics },
          lookup(w, "annotations", null) == null ? {} : { annotations = w.annotations },
        )
      }
    ]
  })
}
