locals {
  suffix   = var.fifo ? ".fifo" : ""
  name     = "${var.name}${local.suffix}"
  dlq_name = "${var.name}-dlq${local.suffix}"
  # Poison (messages that can never succeed) is parked here by the consumer's redrive, never resent.
  quarantine_name = "${var.name}-quarantine${local.suffix}"

  # SSE-SQS unless a customer key is given; the two are mutually exclusive in SQS.
  sqs_managed_sse = var.kms_key_arn == null ? true : null
  kms_reuse       = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds
}

resource "aws_sqs_queue" "dlq" {
  name                        = local.dlq_name
  fifo_queue                  = var.fifo ? true : null
  content_based_deduplication = var.fifo ? var.content_based_deduplication : null
  message_retention_seconds   = var.dlq_message_retention_seconds

  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_reuse

  # Inline on purpose: the separate aws_sqs_queue_redrive_allow_policy hangs on destroy against LocalStack.
  # The source queue's ARN is built from its name so that the two queues are created in parallel.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = ["arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.name}"]
  })

  tags = var.tags
}

resource "aws_sqs_queue" "quarantine" {
  count = var.quarantine ? 1 : 0

  name                        = local.quarantine_name
  fifo_queue                  = var.fifo ? true : null
  content_based_deduplication = var.fifo ? var.content_based_deduplication : null
  message_retention_seconds   = var.dlq_message_retention_seconds

  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_reuse

  # Nothing may use the quarantine as a dead-letter queue: what lands here was put here on purpose.
  redrive_allow_policy = jsonencode({ redrivePermission = "denyAll" })

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                        = local.name
  fifo_queue                  = var.fifo ? true : null
  content_based_deduplication = var.fifo ? var.content_based_deduplication : null
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds
  receive_wait_time_seconds   = var.receive_wait_time_seconds

  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_reuse

  tags = var.tags
}

resource "aws_sqs_queue_redrive_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_policy" "eventbridge" {
  count = length(var.allow_eventbridge_rule_arns) > 0 ? 1 : 0

  queue_url = aws_sqs_queue.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowEventBridgeRules"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.this.arn
      Condition = { ArnEquals = { "aws:SourceArn" = var.allow_eventbridge_rule_arns } }
    }]
  })
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
