locals {
  prefix  = "${var.name_prefix}-${var.stage}"
  enabled = length(var.tenants) > 0
  created = { for name, t in var.tenants : name => t if t.topic_arn == null }
  topic_arns = {
    for name, t in var.tenants : name => t.topic_arn == null ? aws_sns_topic.tenant[name].arn : t.topic_arn
  }
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

# A topic per tenant that brings an endpoint but no topic: the Lambdas publish every terminal state to it.
resource "aws_sns_topic" "tenant" {
  for_each = local.created

  name              = "${local.prefix}-${each.key}-notifications"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = merge(var.tags, { tenant = each.key })
}

# Notifications SNS gave up on (every retry of the delivery policy failed) land here, one queue for all.
resource "aws_sqs_queue" "callbacks_dlq" {
  count = local.enabled ? 1 : 0

  name                      = "${local.prefix}-notify-callbacks-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "callbacks_dlq" {
  count = local.enabled ? 1 : 0

  queue_url = aws_sqs_queue.callbacks_dlq[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "SnsDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.callbacks_dlq[0].arn
      Condition = { ArnEquals = { "aws:SourceArn" = distinct(values(local.topic_arns)) } }
    }]
  })
}

resource "aws_sns_topic_subscription" "https" {
  for_each = var.tenants

  topic_arn            = local.topic_arns[each.key]
  protocol             = "https"
  endpoint             = each.value.https_endpoint
  raw_message_delivery = true
  # The endpoint confirms the subscription once (SNS POSTs a SubscriptionConfirmation with a SubscribeURL).
  endpoint_auto_confirms = false
  delivery_policy = jsonencode({
    healthyRetryPolicy = {
      numRetries         = var.max_retries
      numNoDelayRetries  = 0
      minDelayTarget     = 1
      maxDelayTarget     = var.max_delay_seconds
      numMinDelayRetries = 1
      numMaxDelayRetries = 0
      backoffFunction    = "exponential"
    }
    throttlePolicy = { maxReceivesPerSecond = 10 }
    requestPolicy  = { headerContentType = "application/json" }
  })
  redrive_policy = jsonencode({ deadLetterTargetArn = aws_sqs_queue.callbacks_dlq[0].arn })
}

resource "aws_cloudwatch_metric_alarm" "callbacks_dlq" {
  count = local.enabled ? 1 : 0

  alarm_name          = "${local.prefix}-notify-callbacks-dlq-not-empty"
  alarm_description   = "Query notifications that SNS could not deliver to a tenant's HTTPS callback after ${var.max_retries} retries are in ${aws_sqs_queue.callbacks_dlq[0].name}. Tell the tenant its endpoint failed (the message names the query and its tenant); the query's state is in the ledger either way (GET /queries/{id}). Delete the messages once the tenant has them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.callbacks_dlq[0].name }
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
