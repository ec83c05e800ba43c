output "topic_arns" {
  description = "The topic each tenant with a callback is notified on: tenant => topic ARN (created or given)."
  value       = local.topic_arns
}

output "created_topic_arns" {
  description = "ARNs of the topics this module created (the Lambdas need sns:Publish on them)."
  value       = [for t in aws_sns_topic.tenant : t.arn]
}

output "callbacks_dlq_arn" {
  description = "ARN of the DLQ of undeliverable callbacks (null without tenants)."
  value       = one(aws_sqs_queue.callbacks_dlq[*].arn)
}

output "callbacks_dlq_url" {
  description = "URL of the DLQ of undeliverable callbacks (null without tenants)."
  value       = one(aws_sqs_queue.callbacks_dlq[*].url)
}

output "alarm_name" {
  description = "Name of the callbacks DLQ alarm (null without tenants)."
  value       = one(aws_cloudwatch_metric_alarm.callbacks_dlq[*].alarm_name)
}
