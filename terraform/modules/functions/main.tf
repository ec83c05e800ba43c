data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  handlers = {
    api        = "fairshare.handlers.api.handler"
    dispatcher = "fairshare.handlers.dispatcher.handler"
    completion = "fairshare.handlers.completion.handler"
    redrive    = "fairshare.handlers.redrive.handler"
  }

  timeouts     = merge({ api = 29, dispatcher = 60, completion = 30, redrive = 120 }, var.timeouts)
  memory_sizes = merge({ api = 512, dispatcher = 512, completion = 512, redrive = 256 }, var.memory_sizes)

  function_name = { for fn, _ in local.handlers : fn => "${var.name_prefix}-${var.stage}-${fn}" }
  log_group_arn = { for fn, name in local.function_name : fn => "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${name}" }

  config_s3_uri     = "s3://${var.config_bucket_name}/${var.config_object_key}"
  config_object_arn = "arn:${local.partition}:s3:::${var.config_bucket_name}/${var.config_object_key}"

  ledger_resources = concat([var.queries_table_arn, var.state_table_arn], var.queries_index_arns)
  ledger_actions = [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
  ]
  sqs_consume_actions = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]

  common_statements = concat(
    [
      { Sid = "ReadConfiguration", Effect = "Allow", Action = ["s3:GetObject"], Resource = [local.config_object_arn] },
    ],
    var.kms_key_arn == null ? [] : [
      { Sid = "UseStageKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.kms_key_arn] },
    ],
  )

  # A query that reaches a terminal state notifies its tenant, whoever ends it: completions,
  # reconciliation and failed starts (dispatcher, completion), cancels (api).
  notify_statements = length(var.notify_topic_arns) == 0 ? [] : [
    { Sid = "NotifyTenants", Effect = "Allow", Action = ["sns:Publish"], Resource = var.notify_topic_arns },
  ]

  # I-4: every Athena call about a tenant's query (start, status, results, stop) and every presigned URL
  # is made as that tenant's execution role, which alone reaches the tenant's workgroup, catalog, data
  # and results prefix. The functions themselves hold no Athena, Glue or data access.
  act_as_tenants = { Sid = "ActAsTenants", Effect = "Allow", Action = ["sts:AssumeRole"], Resource = var.tenant_role_arns }

  # What a round of admissions needs besides the ledger: the tenants' roles and the dead letters.
  admission_statements = concat(
    [
      # I-8: a query that exhausted its transient retries is parked in the DLQ, where an alarm fires.
      { Sid = "ParkInDeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [var.submissions_dlq_arn] },
      local.act_as_tenants,
    ],
    local.notify_statements,
  )

  # The Athena-compatible endpoint (fairshare.services.athena_api): the tenants' API keys are its SigV4
  # secrets and their usage plans its rate limits. Its results and catalog calls go as the tenant.
  athena_endpoint_statements = [
    {
      Sid      = "ReadTenantKeys", Effect = "Allow", Action = ["apigateway:GET"],
      Resource = ["arn:${local.partition}:apigateway:${local.region}::/apikeys/*", "arn:${local.partition}:apigateway:${local.region}::/usageplans"]
    },
  ]

  # Least privilege per function: exact actions on exact ARNs.
  statements = {
    api = concat([
      { Sid = "Ledger", Effect = "Allow", Action = local.ledger_actions, Resource = local.ledger_resources },
      { Sid = "WakeDispatcher", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [var.submissions_queue_arn] },
      # Results, presigned URLs and cancels, as the query's tenant.
      local.act_as_tenants,
    ], local.notify_statements, local.athena_endpoint_statements)
    dispatcher = concat(
      [
        { Sid = "Ledger", Effect = "Allow", Action = local.ledger_actions, Resource = local.ledger_resources },
        { Sid = "ConsumeSubmissions", Effect = "Allow", Action = concat(local.sqs_consume_actions, ["sqs:SendMessage"]), Resource = [var.submissions_queue_arn] },
        # The tick reads Athena's usage samples (AWS/Usage ResourceCount) to steer the limit under
        # foreign load. GetMetricData has no resource-level permissions: "*" is the only resource.
        { Sid = "ReadAthenaUsage", Effect = "Allow", Action = ["cloudwatch:GetMetricData"], Resource = ["*"] },
      ],
      local.admission_statements,
    )
    # The completion function refills the slot it released itself (a round of admissions), so it
    # holds what admitting needs, as the dispatcher does.
    completion = concat(
      [
        { Sid = "Ledger", Effect = "Allow", Action = local.ledger_actions, Resource = local.ledger_resources },
        { Sid = "ConsumeAthenaEvents", Effect = "Allow", Action = local.sqs_consume_actions, Resource = [var.events_queue_arn] },
        { Sid = "WakeDispatcher", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [var.submissions_queue_arn] },
      ],
      local.admission_statements,
    )
    redrive = concat(
      [
        # The ledger tells which dead letters still matter (and restarts transiently failed queries).
        { Sid = "Ledger", Effect = "Allow", Action = local.ledger_actions, Resource = local.ledger_resources },
        { Sid = "DrainDeadLetters", Effect = "Allow", Action = local.sqs_consume_actions, Resource = [var.submissions_dlq_arn, var.events_dlq_arn] },
        { Sid = "RefillSources", Effect = "Allow", Action = ["sqs:GetQueueAttributes", "sqs:SendMessage"], Resource = [var.submissions_queue_arn, var.events_queue_arn] },
      ],
      # Poison dead letters are parked, never resent.
      length(var.quarantine_queue_arns) == 0 ? [] : [
        { Sid = "QuarantinePoison", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = var.quarantine_queue_arns },
      ],
    )
  }

  policies = {
    for fn, statements in local.statements : fn => {
      Version = "2012-10-17"
      Statement = concat(
        [{
          Sid      = "WriteOwnLogs", Effect = "Allow",
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource = ["${local.log_group_arn[fn]}:*"]
        }],
        local.common_statements,
        statements,
      )
    }
  }

  environment = {
    for fn, _ in local.handlers : fn => merge(
      {
        FAIRSHARE_CONFIG_S3_URI      = local.config_s3_uri
        FAIRSHARE_CONFIG_VERSION     = var.config_version
        POWERTOOLS_SERVICE_NAME      = "athena-fairshare-${fn}"
        POWERTOOLS_METRICS_NAMESPACE = "AthenaFairshare"
        POWERTOOLS_LOG_LEVEL         = var.log_level
      },
      var.extra_environment,
    )
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; the stage key is used when var.kms_key_arn is set (its policy must allow logs.<region>.amazonaws.com).
  for_each = local.handlers

  name              = "/aws/lambda/${local.function_name[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "fn" {
  for_each = local.handlers

  name = "${local.function_name[each.key]}-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "fn" {
  for_each = local.handlers

  name   = "${local.function_name[each.key]}-least-privilege"
  role   = aws_iam_role.fn[each.key].id
  policy = jsonencode(local.policies[each.key])
}

# X-Ray's PutTraceSegments has no resource-level permissions; the AWS-managed policy is the usual grant.
resource "aws_iam_role_policy_attachment" "xray" {
  for_each = local.handlers

  role       = aws_iam_role.fn[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_lambda_function" "fn" {
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs (Athena, DynamoDB, SQS, S3); a VPC would add NAT or endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_272:The zip is built and deployed by the same pipeline from the reviewed repository; no signing profile exists for the stage.
  #checkov:skip=CKV_AWS_173:The environment holds only names and an S3 URI, no secrets; AWS-managed encryption at rest applies.
  #checkov:skip=CKV_AWS_116:Async invocations are idempotent EventBridge ticks that the next tick replaces; SQS-driven work has the queues' DLQs.
  #checkov:skip=CKV_AWS_115:Only the dispatcher needs a bound (var.dispatcher_reserved_concurrency); reserving for the others would take from the account's pool.
  for_each = local.handlers

  function_name    = local.function_name[each.key]
  description      = "Athena fair-share ${each.key} (${var.stage})"
  role             = aws_iam_role.fn[each.key].arn
  handler          = each.value
  runtime          = var.runtime
  architectures    = ["x86_64"]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  timeout          = local.timeouts[each.key]
  memory_size      = local.memory_sizes[each.key]

  reserved_concurrent_executions = each.key == "dispatcher" ? var.dispatcher_reserved_concurrency : -1

  environment {
    variables = local.environment[each.key]
  }

  tracing_config {
    mode = "Active"
  }

  tags = merge(var.tags, { function = each.key })

  # The log group (named as Lambda's default) must exist first, or Lambda creates one without retention.
  depends_on = [aws_iam_role_policy.fn, aws_cloudwatch_log_group.fn]
}

resource "aws_lambda_event_source_mapping" "dispatcher" {
  event_source_arn                   = var.submissions_queue_arn
  function_name                      = aws_lambda_function.fn["dispatcher"].arn
  batch_size                         = var.dispatcher_batch_size
  maximum_batching_window_in_seconds = var.dispatcher_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
}

resource "aws_lambda_event_source_mapping" "completion" {
  event_source_arn        = var.events_queue_arn
  function_name           = aws_lambda_function.fn["completion"].arn
  batch_size              = var.completion_batch_size
  function_response_types = ["ReportBatchItemFailures"]
}
