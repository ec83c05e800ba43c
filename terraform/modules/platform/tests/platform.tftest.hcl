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

  # Mocked apply needs valid ARNs where the provider validates them; ids stay random.
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:mocked" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mocked" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mocked" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:us-east-1:123456789012:function:mocked"
      invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mocked/invocations"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/mocked" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { execution_arn = "arn:aws:execute-api:us-east-1:123456789012:mocked" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mocked" }
  }
  mock_resource "aws_athena_workgroup" {
    defaults = { arn = "arn:aws:athena:us-east-1:123456789012:workgroup/mocked" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/mocked" }
  }
}

variables {
  package_path = "../functions/tests/fixtures/fairshare.zip"
  stage = {
    name        = "dev"
    name_prefix = "fs"
    pools = {
      DML = { quota = 20, headroom = 2 }
      DDL = { quota = 5, headroom = 1 }
    }
  }
  tenants = {
    analytics = { weight = 3, max_concurrency = 8, daily_bytes_budget = 1099511627776, databases = ["sales", "default"], data_locations = ["arn:aws:s3:::datalake/sales/"] }
    marketing = { weight = 2, api_rate_limit = 5, api_burst_limit = 10 }
    finance   = { weight = 1, daily_bytes_budget = 536870912000, budget_action = "reject", allow_ddl = true }
  }
}

run "composition_and_config_document" {
  command = plan

  assert {
    condition = toset(keys(output.config_document)) == toset([
      "stage", "region", "queries_table", "state_table", "submissions_queue_url", "submissions_dlq_url",
      "events_queue_url", "events_dlq_url", "results_bucket", "results_prefix", "pools", "tenants",
      "start_rate_per_s", "start_burst", "event_grace_s", "presign_expiry_s", "results_page_size",
      "max_transient_attempts", "query_ttl_days", "redrive_max_per_run", "redrive_rate_per_s", "share_policy",
      "share_half_life_s",
    ])
    error_message = "the configuration object must have exactly the keys of docs/CONTRACTS.md, got ${jsonencode(keys(output.config_document))}"
  }

  assert {
    condition = toset(keys(output.config_document.tenants["finance"])) == toset([
      "weight", "max_concurrency", "max_queued", "daily_bytes_budget", "budget_action", "allow_ddl",
      "priority_levels", "aging_seconds", "max_aging_boost", "workgroup", "databases", "api_key_id", "execution_role_arn",
      "principals",
      "notify_topic_arn", "bytes_scanned_cutoff_per_query",
    ])
    error_message = "tenant entries must have exactly the contract's keys"
  }

  assert {
    condition     = output.config_document.tenants["finance"].workgroup == "fs-dev-finance" && output.config_document.tenants["finance"].budget_action == "reject" && output.config_document.tenants["marketing"].daily_bytes_budget == null
    error_message = "tenant policy must flow from the tenants map into the configuration object"
  }

  assert {
    condition     = output.config_document.pools.DML.quota == 20 && output.config_document.pools.DML.headroom == 2 && output.config_document.pools.DDL.decrease_factor == 0.95
    error_message = "pools must flow into the configuration object with their defaults"
  }

  assert {
    condition     = output.config_document.queries_table == "fs-dev-queries" && output.config_document.stage == "dev" && output.config_document.region == "us-east-1"
    error_message = "names must be <prefix>-<stage>-<what>"
  }

  assert {
    condition     = aws_s3_object.config.key == "config/fairshare.json" && aws_s3_object.config.content_type == "application/json"
    error_message = "the configuration object lives at config/fairshare.json"
  }

  assert {
    condition     = length(module.workgroups.workgroup_names) == 3 && length(module.observability.alarm_names) == 8
    error_message = "expected 3 workgroups and 8 alarms (2 DLQ, 2 budgets, throttles, queued age, dispatcher errors, active queries)"
  }

  assert {
    condition     = module.submissions_queue.queue_name == "fs-dev-submissions" && module.events_queue.queue_name == "fs-dev-athena-events"
    error_message = "queue names must follow docs/CONTRACTS.md"
  }
}

run "base" {
  command = apply

  assert {
    condition     = length(output.api_key_ids) == 3 && length(output.usage_plan_ids) == 3
    error_message = "three tenants must have three keys and usage plans"
  }

  assert {
    condition     = output.config_document.tenants["analytics"].api_key_id == output.api_key_ids["analytics"]
    error_message = "the configuration object must carry each tenant's API key id"
  }
}

# The rendered document must pass the Lambdas' own validation (pydantic, unknown keys rejected).
run "config_document_passes_the_lambdas_validation" {
  command = apply

  module {
    source = "./tests/validate_config"
  }

  variables {
    config_document = run.base.config_document
    python          = "../../../.venv/bin/python"
    pythonpath      = "../../../lambda_src"
  }

  assert {
    condition     = jsondecode(output.document).tenants["finance"].budget_action == "reject"
    error_message = "the validated document must be the platform's"
  }
}

# The mock provider cannot say whether a change would replace a resource (it never runs the real
# provider's plan), so this checks identities: every stage-wide name and every existing tenant's ids stay
# the same, and the tenant-keyed sets grow by exactly the new tenant.
run "adding_a_tenant_adds_only_its_resources" {
  command = plan

  variables {
    tenants = {
      analytics = { weight = 3, max_concurrency = 8, daily_bytes_budget = 1099511627776, databases = ["sales", "default"], data_locations = ["arn:aws:s3:::datalake/sales/"] }
      marketing = { weight = 2, api_rate_limit = 5, api_burst_limit = 10 }
      finance   = { weight = 1, daily_bytes_budget = 536870912000, budget_action = "reject", allow_ddl = true }
      research  = { weight = 1, daily_bytes_budget = 107374182400 }
    }
  }

  assert {
    condition     = toset(keys(output.workgroup_names)) == setunion(keys(run.base.workgroup_names), ["research"]) && output.workgroup_names["research"] == "fs-dev-research"
    error_message = "the new tenant must get its workgroup, and only it"
  }

  assert {
    condition     = toset(keys(output.api_key_ids)) == setunion(keys(run.base.api_key_ids), ["research"]) && toset(keys(output.usage_plan_ids)) == setunion(keys(run.base.usage_plan_ids), ["research"])
    error_message = "the new tenant must get its API key and usage plan, and only it"
  }

  assert {
    condition     = toset(keys(output.tenant_role_arns)) == setunion(keys(run.base.tenant_role_arns), ["research"]) && alltrue([for t, arn in run.base.tenant_role_arns : output.tenant_role_arns[t] == arn])
    error_message = "the new tenant must get its execution role, and the others keep theirs"
  }

  assert {
    condition     = output.config_document.tenants["research"].execution_role_arn == output.tenant_role_arns["research"]
    error_message = "the configuration object must name each tenant's execution role"
  }

  assert {
    condition     = output.alarm_names["budget_research"] == "fs-dev-research-daily-bytes-budget" && length(output.alarm_names) == length(run.base.alarm_names) + 1
    error_message = "the new tenant must get its budget alarm and no other alarm may appear"
  }

  assert {
    condition     = alltrue([for t, id in run.base.api_key_ids : output.api_key_ids[t] == id]) && alltrue([for t, id in run.base.usage_plan_ids : output.usage_plan_ids[t] == id]) && alltrue([for t, arn in run.base.workgroup_arns : output.workgroup_arns[t] == arn])
    error_message = "existing tenants' keys, usage plans and workgroups must not be replaced"
  }

  assert {
    condition     = output.rest_api_id == run.base.rest_api_id && output.queue_arns == run.base.queue_arns && output.table_arns == run.base.table_arns && output.function_arns == run.base.function_arns && output.alarm_topic_arn == run.base.alarm_topic_arn && output.athena_state_rule_arn == run.base.athena_state_rule_arn && output.results_bucket == run.base.results_bucket
    error_message = "adding a tenant must not replace the API, queues, tables, functions, alarm topic, rules or bucket"
  }

  assert {
    condition     = output.names == run.base.names
    error_message = "adding a tenant must not rename (so replace) any stage-wide resource"
  }

  assert {
    condition     = { for k, v in output.config_document : k => v if k != "tenants" } == { for k, v in run.base.config_document : k => v if k != "tenants" } && alltrue([for t, c in run.base.config_document.tenants : output.config_document.tenants[t] == c])
    error_message = "adding a tenant must leave the rest of the configuration object, and the other tenants' entries, unchanged"
  }

  assert {
    condition     = output.config_document.tenants["research"].api_key_id == output.api_key_ids["research"] && output.config_document.tenants["research"].workgroup == "fs-dev-research"
    error_message = "the new tenant must appear in the configuration object"
  }
}

run "rejects_an_unknown_budget_action" {
  command = plan

  variables {
    tenants = { ops = { budget_action = "ignore" } }
  }

  expect_failures = [var.tenants]
}

run "rejects_a_principal_pattern_of_any_account" {
  command = plan

  variables {
    tenants = { ops = { principals = ["arn:aws:iam::*:role/ops-*"] } }
  }

  expect_failures = [var.tenants]
}

run "rejects_a_pool_without_a_slot" {
  command = plan

  variables {
    stage = {
      name = "dev"
      pools = {
        DML = { quota = 5, headroom = 5 }
        DDL = { quota = 5 }
      }
    }
  }

  expect_failures = [var.stage]
}

run "rejects_an_account_id_that_is_not_12_digits" {
  command = plan

  variables {
    stage = { name = "dev", account_id = "1234" }
  }

  expect_failures = [var.stage]
}

run "stage_outputs_hold_what_the_tools_read" {
  command = plan

  assert {
    condition = toset(keys(output.stage_outputs)) == toset([
      "invoke_url", "rest_api_id", "api_stage_name", "api_key_ids", "table_names", "queue_urls", "function_names",
      "results_bucket", "workgroup_names", "config_s3_uri", "alarm_topic_arn", "dashboard_name", "region",
    ])
    error_message = "stage_outputs must hold exactly what the stage roots output, got ${jsonencode(keys(output.stage_outputs))}"
  }

  assert {
    condition     = output.stage_outputs.table_names == output.table_names && output.stage_outputs.region == "us-east-1" && output.stage_outputs.workgroup_names == output.workgroup_names
    error_message = "stage_outputs must carry the same values as the module's own outputs"
  }
}
