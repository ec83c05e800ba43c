output "queue_name" {
  description = "Name of the source queue."
  value       = aws_sqs_queue.this.name
}

output "queue_arn" {
  description = "ARN of the source queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the source queue."
  value       = aws_sqs_queue.this.url
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "quarantine_name" {
  description = "Name of the quarantine queue (null without `quarantine`)."
  value       = one(aws_sqs_queue.quarantine[*].name)
}

output "quarantine_arn" {
  description = "ARN of the quarantine queue (null without `quarantine`)."
  value       = one(aws_sqs_queue.quarantine[*].arn)
}

output "quarantine_url" {
  description = "URL of the quarantine queue (null without `quarantine`)."
  value       = one(aws_sqs_queue.quarantine[*].url)
}
