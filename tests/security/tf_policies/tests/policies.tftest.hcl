# Applies the root against a mocked provider: every ARN gets a mock value, so every policy document is
# known and shows in the verbose JSON output that test_least_privilege.py parses.
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
  # Valid ARNs for what the stage creates (one per resource type).
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::fairshare-lp-results" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/fairshare-lp-ledger" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:fairshare-lp-queue" }
  }
  mock_resource "aws_athena_workgroup" {
    defaults = { arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fairshare-lp-mocked" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/fairshare-lp-mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:fairshare-lp-alarms" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/fairshare-lp-mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:fairshare-lp-mocked" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:us-east-1:123456789012:function:fairshare-lp-mocked"
      invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fairshare-lp-mocked/invocations"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/fairshare-lp-mocked" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { execution_arn = "arn:aws:execute-api:us-east-1:123456789012:fairshare-lp-mocked" }
  }
}

variables {
  package_path = "../../../terraform/modules/functions/tests/fixtures/fairshare.zip"
}

# Distinct ARNs where a check tells one tenant's (or the functions') from another's.
override_resource {
  target = module.platform.module.workgroups.aws_athena_workgroup.tenant["analytics"]
  values = { arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fairshare-lp-analytics" }
}

override_resource {
  target = module.platform.module.workgroups.aws_athena_workgroup.tenant["finance"]
  values = { arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fairshare-lp-finance" }
}

override_resource {
  target = module.platform.module.tenant_roles.aws_iam_role.tenant["analytics"]
  values = { arn = "arn:aws:iam::123456789012:role/fairshare/lp/tenants/fairshare-lp-tenant-analytics" }
}

override_resource {
  target = module.platform.module.tenant_roles.aws_iam_role.tenant["finance"]
  values = { arn = "arn:aws:iam::123456789012:role/fairshare/lp/tenants/fairshare-lp-tenant-finance" }
}

run "render_policies" {
  command = apply
}
