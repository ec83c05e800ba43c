output "dispatcher_tick_rule_arn" {
  description = "ARN of the dispatcher tick rule."
  value       = aws_cloudwatch_event_rule.dispatcher_tick.arn
}

output "redrive_rule_arn" {
  description = "ARN of the redrive schedule rule."
  value       = aws_cloudwatch_event_rule.redrive.arn
}

output "athena_state_rule_arn" {
  description = "ARN of the Athena state-change rule (allowed to send to the athena-events queue)."
  value       = aws_cloudwatch_event_rule.athena_state.arn
}

output "athena_state_rule_name" {
  description = "Name of the Athena state-change rule."
  value       = aws_cloudwatch_event_rule.athena_state.name
}

output "rule_names" {
  description = "Names of the stage's EventBridge rules."
  value = {
    dispatcher_tick = aws_cloudwatch_event_rule.dispatcher_tick.name
    redrive         = aws_cloudwatch_event_rule.redrive.name
    athena_state    = aws_cloudwatch_event_rule.athena_state.name
  }
}
