output "alarm_topic_arn" {
  description = "ARN of the stage's alarm topic."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm of the stage, by purpose."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.dlq : "dlq_${k}" => a.alarm_name },
    { for k, a in aws_cloudwatch_metric_alarm.quarantine : "quarantine_${k}" => a.alarm_name },
    { for k, a in aws_cloudwatch_metric_alarm.tenant_budget : "budget_${k}" => a.alarm_name },
    {
      throttles         = aws_cloudwatch_metric_alarm.throttles.alarm_name
      queued_age        = aws_cloudwatch_metric_alarm.queued_age.alarm_name
      dispatcher_errors = aws_cloudwatch_metric_alarm.dispatcher_errors.alarm_name
      active_queries    = aws_cloudwatch_metric_alarm.active_queries.alarm_name
    },
  )
}

output "dashboard_name" {
  description = "Name of the stage's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.stage.dashboard_name
}

output "alarm_topic_name" {
  description = "Name of the stage's alarm topic."
  value       = aws_sns_topic.alarms.name
}
