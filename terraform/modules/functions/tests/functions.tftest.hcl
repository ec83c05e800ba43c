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
}

variables {
  name_prefix           = "fs"
  stage                 = "dev"
  package_path          = "tests/fixtures/fairshare.zip"
  config_bucket_name    = "fs-dev-results-123456789012"
  config_version        = "0123456789abcdef0123456789abcdef"
  queries_table_arn     = "arn:aws:dynamodb:us-east-1:123456789012:table/fs-dev-queries"
  queries_index_arns    = ["arn:aws:dynamodb:us-east-1:123456789012:table/fs-dev-queries/index/queued_heads"]
  state_table_arn       = "arn:aws:dynamodb:us-east-1:123456789012:table/fs-dev-state"
  submissions_queue_arn = "arn:aws:sqs:us-east-1:123456789012:fs-dev-submissions"
  submissions_dlq_arn   = "arn:aws:sqs:us-east-1:123456789012:fs-dev-submissions-dlq"
  events_queue_arn      = "arn:aws:sqs:us-east-1:123456789012:fs-dev-athena-events"
  events_dlq_arn        = "arn:aws:sqs:us-east-1:123456789012:fs-dev-athena-events-dlq"
  tenant_role_arns = [
    "arn:aws:iam::123456789012:role/fs/dev/tenants/fs-dev-tenant-analytics",
    "arn:aws:iam::123456789012:role/fs/dev/tenants/fs-dev-tenant-finance",
  ]
  notify_topic_arns = ["arn:aws:sns:us-east-1:123456789012:finance-notify"]
  extra_environment = { AWS_ENDPOINT_URL = "http://127.0.0.1:4566" }
}

run "one_function_per_handler_from_one_zip" {
  command = plan

  assert {
    condition     = toset(keys(aws_lambda_function.fn)) == toset(["api", "dispatcher", "completion", "redrive"])
    error_message = "expected the functions api, dispatcher, completion, redrive; got ${jsonencode(keys(aws_lambda_function.fn))}"
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.fn) : f.runtime == "python3.12" && f.filename == var.package_path && f.source_code_hash == filebase64sha256(var.package_path)])
    error_message = "every function must run python3.12 from the one zip, with its hash as source_code_hash"
  }

  assert {
    condition     = aws_lambda_function.fn["dispatcher"].handler == "fairshare.handlers.dispatcher.handler" && aws_lambda_function.fn["api"].function_name == "fs-dev-api"
    error_message = "handler or function name does not follow docs/CONTRACTS.md"
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.fn) : f.tracing_config[0].mode == "Active"])
    error_message = "X-Ray tracing must be Active on every function"
  }

  assert {
    condition     = aws_lambda_function.fn["dispatcher"].reserved_concurrent_executions == 2 && aws_lambda_function.fn["api"].reserved_concurrent_executions == -1
    error_message = "only the dispatcher has reserved concurrency (default 2)"
  }

  assert {
    condition     = aws_lambda_function.fn["completion"].environment[0].variables["FAIRSHARE_CONFIG_S3_URI"] == "s3://fs-dev-results-123456789012/config/fairshare.json" && aws_lambda_function.fn["completion"].environment[0].variables["FAIRSHARE_CONFIG_VERSION"] == var.config_version
    error_message = "the configuration URI and version must be in the environment"
  }

  assert {
    condition     = aws_lambda_function.fn["redrive"].environment[0].variables["POWERTOOLS_SERVICE_NAME"] == "athena-fairshare-redrive" && aws_lambda_function.fn["redrive"].environment[0].variables["POWERTOOLS_METRICS_NAMESPACE"] == "AthenaFairshare"
    error_message = "Powertools variables must follow docs/CONTRACTS.md"
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.fn) : f.environment[0].variables["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"])
    error_message = "extra_environment must reach every function"
  }

  assert {
    condition     = alltrue([for fn, g in aws_cloudwatch_log_group.fn : g.name == "/aws/lambda/fs-dev-${fn}" && g.retention_in_days == 365])
    error_message = "every function needs its /aws/lambda/<fn> log group with retention"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.dispatcher.event_source_arn == var.submissions_queue_arn && aws_lambda_event_source_mapping.completion.event_source_arn == var.events_queue_arn
    error_message = "dispatcher must consume submissions and completion athena-events"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.dispatcher.function_response_types == toset(["ReportBatchItemFailures"]) && aws_lambda_event_source_mapping.completion.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "both event source mappings must report batch item failures"
  }
}

run "iam_is_least_privilege" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for fn, p in output.policies : [
        for s in p.Statement : [
          for a in flatten([s.Action]) : a != "*" && !endswith(a, ":*")
        ]
      ]
    ]))
    error_message = "no IAM statement may allow \"*\" or \"<service>:*\" actions"
  }

  assert {
    condition = alltrue(flatten([
      for fn, p in output.policies : [
        for s in p.Statement : [
          for r in flatten([s.Resource]) : !startswith(r, "arn:aws:s3:::*") && (r != "*" || toset(flatten([s.Action])) == toset(["cloudwatch:GetMetricData"]))
        ]
      ]
    ]))
    error_message = "no IAM statement may have Resource \"*\", but cloudwatch:GetMetricData (which has no resource-level permissions)"
  }

  assert {
    condition = (
      contains([for s in output.policies.dispatcher.Statement : s.Sid], "ReadAthenaUsage")
      && !contains([for s in output.policies.api.Statement : s.Sid], "ReadAthenaUsage")
      && !contains([for s in output.policies.completion.Statement : s.Sid], "ReadAthenaUsage")
    )
    error_message = "only the dispatcher (its tick) reads Athena's usage metric"
  }

  assert {
    condition = alltrue(flatten([
      for fn, p in output.policies : [
        for s in p.Statement : [
          for a in flatten([s.Action]) : !startswith(a, "athena:") && !startswith(a, "glue:") && !(startswith(a, "s3:") && a != "s3:GetObject")
        ]
      ]
    ]))
    error_message = "no function holds Athena, Glue or data access of its own: each acts as the query's tenant"
  }

  assert {
    condition = alltrue(flatten([
      for fn, p in output.policies : [
        for s in p.Statement : flatten([s.Resource]) == ["arn:aws:s3:::${var.config_bucket_name}/${var.config_object_key}"] if anytrue([for a in flatten([s.Action]) : startswith(a, "s3:")])
      ]
    ]))
    error_message = "the only S3 object a function reads with its own role is the configuration object"
  }

  assert {
    condition = alltrue([for fn in ["api", "completion", "dispatcher"] : toset(one([for s in output.policies[fn].Statement : s if s.Sid == "ActAsTenants"]).Resource) == toset(var.tenant_role_arns)]) && !anytrue([
      for s in output.policies["redrive"].Statement : contains(flatten([s.Action]), "sts:AssumeRole")
    ])
    error_message = "api, completion and the dispatcher may assume exactly the tenants' roles; redrive may not"
  }

  assert {
    condition     = alltrue([for fn in ["api", "completion", "dispatcher"] : one([for s in output.policies[fn].Statement : s if s.Sid == "NotifyTenants"]).Resource == var.notify_topic_arns]) && length([for fn in ["redrive"] : fn if anytrue([for s in output.policies[fn].Statement : anytrue([for a in s.Action : startswith(a, "sns:")])])]) == 0
    error_message = "api (cancels), completion and the dispatcher (which finish queries) publish to exactly the tenant topics; redrive does not"
  }

  assert {
    condition     = length([for fn, p in output.policies : fn if anytrue([for s in p.Statement : anytrue([for a in s.Action : startswith(a, "kms:")])])]) == 0
    error_message = "no KMS permission without a key"
  }

  assert {
    condition     = alltrue([for fn, p in output.policies : one([for s in p.Statement : s if s.Sid == "WriteOwnLogs"]).Resource == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fs-dev-${fn}:*"]])
    error_message = "each function writes only to its own log group"
  }
}

run "queues_are_reached_by_exactly_their_users" {
  command = plan

  assert {
    condition     = toset(flatten([for s in output.policies["redrive"].Statement : s.Resource if anytrue([for a in s.Action : a == "sqs:ReceiveMessage"])])) == toset([var.submissions_dlq_arn, var.events_dlq_arn])
    error_message = "redrive drains exactly the two DLQs"
  }

  assert {
    condition     = toset(flatten([for s in output.policies["dispatcher"].Statement : s.Resource if contains(s.Action, "sqs:SendMessage")])) == toset([var.submissions_queue_arn, var.submissions_dlq_arn])
    error_message = "the dispatcher sends to the submissions queue and its DLQ only"
  }

  assert {
    condition     = length([for fn, p in output.policies : fn if anytrue([for s in p.Statement : contains(s.Action, "sqs:ReceiveMessage") && contains(s.Resource, var.events_queue_arn)])]) == 1 && anytrue([for s in output.policies["completion"].Statement : contains(s.Action, "sqs:ReceiveMessage") && contains(s.Resource, var.events_queue_arn)])
    error_message = "only completion consumes the athena-events queue"
  }
}

run "kms_key_adds_exactly_that_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = alltrue([for fn, p in output.policies : one([for s in p.Statement : s if s.Sid == "UseStageKey"]).Resource == [var.kms_key_arn]])
    error_message = "every function may use exactly the stage key"
  }
}

run "timeouts_memory_and_concurrency_are_configurable" {
  command = plan

  variables {
    timeouts                        = { dispatcher = 120 }
    memory_sizes                    = { api = 1024 }
    dispatcher_reserved_concurrency = 5
  }

  assert {
    condition     = aws_lambda_function.fn["dispatcher"].timeout == 120 && aws_lambda_function.fn["api"].timeout == 29 && aws_lambda_function.fn["api"].memory_size == 1024 && aws_lambda_function.fn["dispatcher"].reserved_concurrent_executions == 5
    error_message = "per-function timeout, memory and dispatcher concurrency must follow the variables"
  }
}

run "rejects_wildcard_tenant_roles" {
  command = plan

  variables {
    tenant_role_arns = ["arn:aws:iam::123456789012:role/*"]
  }

  expect_failures = [var.tenant_role_arns]
}
