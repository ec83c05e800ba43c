mock_provider "aws" {
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mocked" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:fs-dev-notify-callbacks-dlq"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/fs-dev-notify-callbacks-dlq"
    }
  }
}

variables {
  name_prefix     = "fs"
  stage           = "dev"
  alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:fs-dev-alarms"
  tenants = {
    analytics = { https_endpoint = "https://hooks.example.com/analytics" }
    finance   = { https_endpoint = "https://finance.example.com/athena", topic_arn = "arn:aws:sns:us-east-1:123456789012:finance" }
  }
}

run "a_callback_per_tenant_with_retries_and_a_dlq" {
  command = apply

  assert {
    condition     = toset(keys(aws_sns_topic.tenant)) == toset(["analytics"]) && aws_sns_topic.tenant["analytics"].name == "fs-dev-analytics-notifications" && aws_sns_topic.tenant["analytics"].kms_master_key_id == "alias/aws/sns"
    error_message = "only a tenant without a topic of its own gets one, encrypted"
  }

  assert {
    condition     = aws_sns_topic_subscription.https["finance"].topic_arn == "arn:aws:sns:us-east-1:123456789012:finance" && aws_sns_topic_subscription.https["finance"].protocol == "https" && aws_sns_topic_subscription.https["finance"].endpoint == "https://finance.example.com/athena"
    error_message = "a tenant's callback subscribes to the topic its notifications are published on"
  }

  assert {
    condition     = jsondecode(aws_sns_topic_subscription.https["analytics"].delivery_policy).healthyRetryPolicy.numRetries == 10 && jsondecode(aws_sns_topic_subscription.https["analytics"].delivery_policy).healthyRetryPolicy.backoffFunction == "exponential" && jsondecode(aws_sns_topic_subscription.https["analytics"].delivery_policy).healthyRetryPolicy.maxDelayTarget == 300
    error_message = "deliveries are retried 10 times with exponential back-off up to 300 s"
  }

  assert {
    condition     = alltrue([for s in values(aws_sns_topic_subscription.https) : jsondecode(s.redrive_policy).deadLetterTargetArn == aws_sqs_queue.callbacks_dlq[0].arn])
    error_message = "what SNS gives up on goes to the callbacks DLQ"
  }

  assert {
    condition     = toset(jsondecode(aws_sqs_queue_policy.callbacks_dlq[0].policy).Statement[0].Condition.ArnEquals["aws:SourceArn"]) == toset(values(output.topic_arns)) && jsondecode(aws_sqs_queue_policy.callbacks_dlq[0].policy).Statement[0].Principal.Service == "sns.amazonaws.com"
    error_message = "only SNS, from exactly the tenants' topics, may write to the callbacks DLQ"
  }

  assert {
    condition     = aws_sqs_queue.callbacks_dlq[0].sqs_managed_sse_enabled == true && aws_sqs_queue.callbacks_dlq[0].message_retention_seconds == 1209600
    error_message = "the callbacks DLQ is encrypted and keeps messages 14 days"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.callbacks_dlq[0].alarm_name == "fs-dev-notify-callbacks-dlq-not-empty" && aws_cloudwatch_metric_alarm.callbacks_dlq[0].dimensions == tomap({ QueueName = "fs-dev-notify-callbacks-dlq" }) && aws_cloudwatch_metric_alarm.callbacks_dlq[0].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:fs-dev-alarms"])
    error_message = "the callbacks DLQ has its not-empty alarm, to the stage's alarm topic"
  }
}

run "nothing_without_callbacks" {
  command = plan

  variables {
    tenants = {}
  }

  assert {
    condition     = length(aws_sqs_queue.callbacks_dlq) == 0 && length(aws_cloudwatch_metric_alarm.callbacks_dlq) == 0 && length(output.topic_arns) == 0
    error_message = "a stage without callbacks creates nothing"
  }
}

run "rejects_a_plain_http_callback" {
  command = plan

  variables {
    tenants = { analytics = { https_endpoint = "http://hooks.example.com/analytics" } }
  }

  expect_failures = [var.tenants]
}
