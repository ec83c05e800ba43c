mock_provider "aws" {
  mock_resource "aws_cloudwatch_event_rule" {
    override_during = plan
    defaults        = { arn = "arn:aws:events:us-east-1:123456789012:rule/mocked" }
  }
}

variables {
  name_prefix              = "fs"
  stage                    = "dev"
  dispatcher_function_name = "fs-dev-dispatcher"
  dispatcher_function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:fs-dev-dispatcher"
  redrive_function_name    = "fs-dev-redrive"
  redrive_function_arn     = "arn:aws:lambda:us-east-1:123456789012:function:fs-dev-redrive"
  events_queue_arn         = "arn:aws:sqs:us-east-1:123456789012:fs-dev-athena-events"
  workgroup_names          = ["fs-dev-analytics", "fs-dev-finance"]
}

run "schedules_target_their_lambdas" {
  command = plan

  assert {
    condition     = aws_cloudwatch_event_rule.dispatcher_tick.schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_target.dispatcher_tick.arn == var.dispatcher_function_arn
    error_message = "the dispatcher must be ticked every minute"
  }

  assert {
    condition     = aws_lambda_permission.dispatcher_tick.principal == "events.amazonaws.com" && aws_lambda_permission.dispatcher_tick.function_name == "fs-dev-dispatcher" && aws_lambda_permission.dispatcher_tick.source_arn == aws_cloudwatch_event_rule.dispatcher_tick.arn
    error_message = "EventBridge needs permission to invoke the dispatcher from the tick rule only"
  }

  assert {
    condition     = aws_cloudwatch_event_target.dispatcher_tick.input == null && aws_cloudwatch_event_target.redrive.input == null
    error_message = "the schedules must deliver the scheduled event itself (source aws.events): the dispatcher reconciles only then"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.redrive.schedule_expression == "rate(5 minutes)" && aws_cloudwatch_event_target.redrive.arn == var.redrive_function_arn && aws_lambda_permission.redrive.function_name == "fs-dev-redrive"
    error_message = "the redrive Lambda must run every 5 minutes"
  }
}

run "athena_state_changes_of_the_stage_go_to_the_events_queue" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.athena_state.event_pattern).source == ["aws.athena"] && jsondecode(aws_cloudwatch_event_rule.athena_state.event_pattern)["detail-type"] == ["Athena Query State Change"]
    error_message = "the rule must match aws.athena Athena Query State Change"
  }

  assert {
    condition     = toset(jsondecode(aws_cloudwatch_event_rule.athena_state.event_pattern).detail.workgroupName) == toset(var.workgroup_names)
    error_message = "the rule must be filtered to the stage's workgroups"
  }

  assert {
    condition     = toset(jsondecode(aws_cloudwatch_event_rule.athena_state.event_pattern).detail.currentState) == toset(["SUCCEEDED", "FAILED", "CANCELLED"])
    error_message = "only terminal states release a slot: the rule must forward those and no others"
  }

  assert {
    condition     = aws_cloudwatch_event_target.athena_state.arn == var.events_queue_arn
    error_message = "the target must be the athena-events queue"
  }
}

run "redrive_can_be_paused" {
  command = plan

  variables {
    redrive_enabled = false
  }

  assert {
    condition     = aws_cloudwatch_event_rule.redrive.state == "DISABLED"
    error_message = "redrive_enabled = false must disable the schedule"
  }
}
