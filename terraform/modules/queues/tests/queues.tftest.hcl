mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_sqs_queue" {
    override_during = plan
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:mocked"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/mocked"
    }
  }
}

variables {
  name = "fs-dev-submissions"
  tags = { stage = "dev" }
}

run "standard_queue_with_dlq_and_redrive" {
  command = plan

  assert {
    condition     = aws_sqs_queue.this.name == "fs-dev-submissions" && aws_sqs_queue.dlq.name == "fs-dev-submissions-dlq"
    error_message = "expected queue fs-dev-submissions and DLQ fs-dev-submissions-dlq, got ${aws_sqs_queue.this.name} and ${aws_sqs_queue.dlq.name}"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_policy.this.redrive_policy).maxReceiveCount == 5
    error_message = "default maxReceiveCount must be 5, got ${jsondecode(aws_sqs_queue_redrive_policy.this.redrive_policy).maxReceiveCount}"
  }

  assert {
    condition     = aws_sqs_queue.dlq.sqs_managed_sse_enabled == true && aws_sqs_queue.this.sqs_managed_sse_enabled == true
    error_message = "both queues must use SSE-SQS when no KMS key is given"
  }

  assert {
    condition     = aws_sqs_queue.dlq.kms_master_key_id == null
    error_message = "no KMS key was given, yet the DLQ has one"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy).redrivePermission == "byQueue" && jsondecode(aws_sqs_queue.dlq.redrive_allow_policy).sourceQueueArns == ["arn:aws:sqs:us-east-1:123456789012:fs-dev-submissions"]
    error_message = "the DLQ must allow redrive from exactly its source queue, got ${aws_sqs_queue.dlq.redrive_allow_policy}"
  }

  assert {
    condition     = length(aws_sqs_queue_policy.eventbridge) == 0
    error_message = "no queue policy is expected without EventBridge rules"
  }
}

run "max_receive_count_is_configurable" {
  command = plan

  variables {
    max_receive_count = 3
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_policy.this.redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount must follow the variable"
  }
}

run "kms_encryption_replaces_sse_sqs" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_sqs_queue.dlq.kms_master_key_id == var.kms_key_arn && aws_sqs_queue.this.kms_master_key_id == var.kms_key_arn
    error_message = "both queues must be encrypted with the given key"
  }

  assert {
    condition     = aws_sqs_queue.dlq.sqs_managed_sse_enabled != true
    error_message = "SSE-SQS must be off when a KMS key is used"
  }
}

run "fifo_names_and_flags" {
  command = plan

  variables {
    fifo = true
  }

  assert {
    condition     = aws_sqs_queue.this.name == "fs-dev-submissions.fifo" && aws_sqs_queue.dlq.name == "fs-dev-submissions-dlq.fifo"
    error_message = "FIFO queues must end in .fifo"
  }

  assert {
    condition     = aws_sqs_queue.this.fifo_queue == true && aws_sqs_queue.dlq.fifo_queue == true
    error_message = "both queues must be FIFO"
  }
}

run "eventbridge_rules_get_a_queue_policy" {
  command = plan

  variables {
    allow_eventbridge_rule_arns = ["arn:aws:events:us-east-1:123456789012:rule/fs-dev-athena-state"]
  }

  assert {
    condition     = length(aws_sqs_queue_policy.eventbridge) == 1 && jsondecode(aws_sqs_queue_policy.eventbridge[0].policy).Statement[0].Action == "sqs:SendMessage"
    error_message = "one queue policy allowing only sqs:SendMessage is expected for the EventBridge rule"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_policy.eventbridge[0].policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == ["arn:aws:events:us-east-1:123456789012:rule/fs-dev-athena-state"]
    error_message = "the policy must be limited to the rule's ARN"
  }
}

run "rejects_zero_max_receive_count" {
  command = plan

  variables {
    max_receive_count = 0
  }

  expect_failures = [var.max_receive_count]
}

run "quarantine_queue_only_on_request" {
  command = plan

  assert {
    condition     = length(aws_sqs_queue.quarantine) == 0 && output.quarantine_url == null
    error_message = "no quarantine queue is created unless asked for"
  }
}

run "quarantine_queue_parks_poison_and_is_never_a_dlq" {
  command = plan

  variables {
    quarantine = true
  }

  assert {
    condition     = aws_sqs_queue.quarantine[0].name == "fs-dev-submissions-quarantine" && aws_sqs_queue.quarantine[0].message_retention_seconds == 1209600
    error_message = "the quarantine is <name>-quarantine and keeps messages as long as the DLQ, got ${aws_sqs_queue.quarantine[0].name}"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.quarantine[0].redrive_allow_policy).redrivePermission == "denyAll" && aws_sqs_queue.quarantine[0].sqs_managed_sse_enabled == true
    error_message = "no queue may use the quarantine as its DLQ, and it is encrypted at rest"
  }
}
