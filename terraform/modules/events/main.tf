locals {
  prefix = "${var.name_prefix}-${var.stage}"
}

resource "aws_cloudwatch_event_rule" "dispatcher_tick" {
  name                = "${local.prefix}-dispatcher-tick"
  description         = "Wakes the dispatcher: admission and reconciliation even when no submission arrives."
  schedule_expression = var.dispatcher_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "dispatcher_tick" {
  rule      = aws_cloudwatch_event_rule.dispatcher_tick.name
  target_id = "dispatcher"
  # The scheduled event itself (source aws.events) is what makes the dispatcher reconcile too.
  arn = var.dispatcher_function_arn
}

resource "aws_lambda_permission" "dispatcher_tick" {
  statement_id  = "AllowDispatcherTick"
  action        = "lambda:InvokeFunction"
  function_name = var.dispatcher_function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.dispatcher_tick.arn
}

resource "aws_cloudwatch_event_rule" "redrive" {
  name                = "${local.prefix}-redrive"
  description         = "Moves DLQ messages back to their source queues, bounded per run."
  schedule_expression = var.redrive_schedule
  state               = var.redrive_enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "redrive" {
  rule      = aws_cloudwatch_event_rule.redrive.name
  target_id = "redrive"
  arn       = var.redrive_function_arn
}

resource "aws_lambda_permission" "redrive" {
  statement_id  = "AllowRedriveSchedule"
  action        = "lambda:InvokeFunction"
  function_name = var.redrive_function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.redrive.arn
}

resource "aws_cloudwatch_event_rule" "athena_state" {
  name        = "${local.prefix}-athena-state"
  description = "Athena queries of the stage's workgroups reaching a terminal state, to the athena-events queue."
  # Only terminal states release a slot; QUEUED and RUNNING changes (two of every query's three events)
  # would only be read and dropped by the completion function.
  event_pattern = jsonencode({
    source        = ["aws.athena"]
    "detail-type" = ["Athena Query State Change"]
    detail = {
      workgroupName = var.workgroup_names
      currentState  = ["SUCCEEDED", "FAILED", "CANCELLED"]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "athena_state" {
  rule      = aws_cloudwatch_event_rule.athena_state.name
  target_id = "athena-events-queue"
  arn       = var.events_queue_arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 20
  }
}
