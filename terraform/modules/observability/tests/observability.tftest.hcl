mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_sns_topic" {
    override_during = plan
    defaults        = { arn = "arn:aws:sns:us-east-1:123456789012:fs-dev-alarms" }
  }
}

variables {
  name_prefix              = "fs"
  stage                    = "dev"
  region                   = "us-east-1"
  dispatcher_function_name = "fs-dev-dispatcher"
  dml_quota                = 200
  dlq_names = {
    submissions   = "fs-dev-submissions-dlq"
    athena-events = "fs-dev-athena-events-dlq"
  }
  quarantine_names = {
    submissions   = "fs-dev-submissions-quarantine"
    athena-events = "fs-dev-athena-events-quarantine"
  }
  tenants = {
    analytics = { workgroup = "fs-dev-analytics", daily_bytes_budget = 1099511627776 }
    marketing = { workgroup = "fs-dev-marketing" }
    finance   = { workgroup = "fs-dev-finance", daily_bytes_budget = 536870912000, notify_topic_arn = "arn:aws:sns:us-east-1:123456789012:finance" }
  }
}

run "one_budget_alarm_per_budgeted_tenant" {
  command = plan

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.tenant_budget)) == toset(["analytics", "finance"])
    error_message = "exactly the tenants with a budget get a budget alarm, got ${jsonencode(keys(aws_cloudwatch_metric_alarm.tenant_budget))}"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.tenant_budget["finance"].threshold == 536870912000
    error_message = "the budget alarm compares with the tenant's budget"
  }

  assert {
    condition = alltrue([
      for m in flatten([for q in aws_cloudwatch_metric_alarm.tenant_budget["finance"].metric_query : q.metric]) :
      m.namespace == "AWS/Athena" && m.metric_name == "ProcessedBytes" && m.stat == "Sum" && m.period == 86400 && m.dimensions["WorkGroup"] == "fs-dev-finance"
    ]) && length(flatten([for q in aws_cloudwatch_metric_alarm.tenant_budget["finance"].metric_query : q.metric])) == 4
    error_message = "every series of the budget alarm is a day of AWS/Athena ProcessedBytes of the tenant's workgroup"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.tenant_budget["finance"].metric_query) == 5 && one([for q in aws_cloudwatch_metric_alarm.tenant_budget["finance"].metric_query : q if q.return_data == true]).id == "scanned"
    error_message = "the alarm evaluates the combined series (WorkGroup-only and the three billed DML states)"
  }

  assert {
    condition     = contains(aws_cloudwatch_metric_alarm.tenant_budget["finance"].alarm_actions, "arn:aws:sns:us-east-1:123456789012:finance") && length(aws_cloudwatch_metric_alarm.tenant_budget["analytics"].alarm_actions) == 1
    error_message = "a tenant's notify topic also gets its budget alarm"
  }
}

run "stage_alarms" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.dlq) == 2 && alltrue([for a in values(aws_cloudwatch_metric_alarm.dlq) : a.metric_name == "ApproximateNumberOfMessagesVisible" && a.threshold == 0 && a.comparison_operator == "GreaterThanThreshold"])
    error_message = "each DLQ needs a not-empty alarm"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq["submissions"].dimensions == tomap({ QueueName = "fs-dev-submissions-dlq" })
    error_message = "the DLQ alarm must watch the DLQ by name"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.quarantine) == 2 && aws_cloudwatch_metric_alarm.quarantine["athena-events"].alarm_name == "fs-dev-athena-events-quarantine-not-empty" && aws_cloudwatch_metric_alarm.quarantine["athena-events"].dimensions == tomap({ QueueName = "fs-dev-athena-events-quarantine" }) && alltrue([for a in values(aws_cloudwatch_metric_alarm.quarantine) : a.namespace == "AWS/SQS" && a.metric_name == "ApproximateNumberOfMessagesVisible" && a.threshold == 0 && a.comparison_operator == "GreaterThanThreshold" && length(a.ok_actions) == 1])
    error_message = "each quarantine queue needs its own not-empty alarm, on the queue by name, that also says when it is OK again"
  }

  assert {
    condition     = output.alarm_names["quarantine_submissions"] == "fs-dev-submissions-quarantine-not-empty"
    error_message = "the quarantine alarms are among the stage's alarm names"
  }

  assert {
    condition     = one(aws_cloudwatch_metric_alarm.throttles.metric_query).expression == "SELECT SUM(ThrottlingErrorCount) FROM AthenaFairshare WHERE stage = 'dev'" && one(aws_cloudwatch_metric_alarm.throttles.metric_query).period == 300
    error_message = "the throttle alarm sums ThrottlingErrorCount of the stage over 5 minutes"
  }

  assert {
    condition     = strcontains(one(aws_cloudwatch_metric_alarm.queued_age.metric_query).expression, "OldestQueuedAgeSeconds") && aws_cloudwatch_metric_alarm.queued_age.threshold == 900
    error_message = "the queued-age alarm compares OldestQueuedAgeSeconds with the SLO"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.active_queries.treat_missing_data == "notBreaching" && aws_cloudwatch_metric_alarm.active_queries.threshold == 180 && aws_cloudwatch_metric_alarm.active_queries.dimensions == tomap({ Service = "Athena", Resource = "ActiveQueryCount", Type = "Resource", Class = "DML" })
    error_message = "the ActiveQueryCount alarm fires at 90% of the DML quota and treats missing data as not breaching"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dispatcher_errors.dimensions == tomap({ FunctionName = "fs-dev-dispatcher" }) && aws_cloudwatch_metric_alarm.dispatcher_errors.namespace == "AWS/Lambda"
    error_message = "the dispatcher's Lambda Errors must be alarmed"
  }

  assert {
    condition = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq), values(aws_cloudwatch_metric_alarm.quarantine), values(aws_cloudwatch_metric_alarm.tenant_budget), [
      aws_cloudwatch_metric_alarm.throttles, aws_cloudwatch_metric_alarm.queued_age, aws_cloudwatch_metric_alarm.dispatcher_errors, aws_cloudwatch_metric_alarm.active_queries
    ]) : length(a.alarm_description) >= 80 && contains(a.alarm_actions, "arn:aws:sns:us-east-1:123456789012:fs-dev-alarms")])
    error_message = "every alarm says what to do and notifies the alarm topic"
  }

  assert {
    condition     = length(aws_kms_key.alarms) == 1 && aws_kms_key.alarms[0].enable_key_rotation
    error_message = "without a stage key the alarm topic gets its own rotating key"
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.stage.dashboard_body).widgets) == 10
    error_message = "the stage dashboard has 10 widgets"
  }

  assert {
    condition     = one([for w in jsondecode(aws_cloudwatch_dashboard.stage.dashboard_body).widgets : w if strcontains(w.properties.title, "queued age")]).properties.metrics[0][0].expression == "SEARCH('{AthenaFairshare} MetricName=\"OldestQueuedAgeSeconds\" stage=\"dev\"', 'Maximum', 60)" && one([for w in jsondecode(aws_cloudwatch_dashboard.stage.dashboard_body).widgets : w if strcontains(w.properties.title, "queued age")]).properties.annotations.horizontal[0].value == 900
    error_message = "the dashboard shows the queue age of every tenant and reason, against the SLO"
  }

  assert {
    condition     = alltrue([for reason in ["tenant_cap", "budget_hold", "throttle_backoff", "pool_full", "start_rate"] : strcontains(aws_cloudwatch_metric_alarm.queued_age.alarm_description, reason)])
    error_message = "the queued-age alarm's advice names every reason a query waits for"
  }
}

run "stage_key_replaces_the_alarm_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = length(aws_kms_key.alarms) == 0 && aws_sns_topic.alarms.kms_master_key_id == var.kms_key_arn
    error_message = "the given key must encrypt the alarm topic"
  }
}
