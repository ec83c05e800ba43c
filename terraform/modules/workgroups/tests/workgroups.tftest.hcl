mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_s3_bucket" {
    override_during = plan
    defaults = {
      arn    = "arn:aws:s3:::fs-dev-results-123456789012"
      bucket = "fs-dev-results-123456789012"
    }
  }
}

variables {
  name_prefix = "fs"
  stage       = "dev"
  tenants = {
    analytics = { bytes_scanned_cutoff_per_query = 10485760 }
    marketing = {}
    finance   = { bytes_scanned_cutoff_per_query = 53687091200 }
  }
}

run "one_workgroup_per_tenant_with_metrics_and_cutoff" {
  command = plan

  assert {
    condition     = length(aws_athena_workgroup.tenant) == 3 && toset(keys(aws_athena_workgroup.tenant)) == toset(["analytics", "marketing", "finance"])
    error_message = "expected exactly one workgroup per tenant, got ${jsonencode(keys(aws_athena_workgroup.tenant))}"
  }

  assert {
    condition     = alltrue([for wg in values(aws_athena_workgroup.tenant) : wg.configuration[0].publish_cloudwatch_metrics_enabled && wg.configuration[0].enforce_workgroup_configuration])
    error_message = "every workgroup must publish CloudWatch metrics and enforce its configuration"
  }

  assert {
    condition     = aws_athena_workgroup.tenant["analytics"].configuration[0].bytes_scanned_cutoff_per_query == 10485760 && aws_athena_workgroup.tenant["finance"].configuration[0].bytes_scanned_cutoff_per_query == 53687091200 && aws_athena_workgroup.tenant["marketing"].configuration[0].bytes_scanned_cutoff_per_query == 10737418240
    error_message = "the per-tenant cutoff (or the 10 GiB default) must be set on each workgroup"
  }

  assert {
    condition     = aws_athena_workgroup.tenant["finance"].name == "fs-dev-finance"
    error_message = "workgroup names must be <prefix>-<stage>-<tenant>, got ${aws_athena_workgroup.tenant["finance"].name}"
  }

  assert {
    condition     = aws_athena_workgroup.tenant["marketing"].configuration[0].result_configuration[0].output_location == "s3://fs-dev-results-123456789012/results/marketing/"
    error_message = "results must go to s3://<bucket>/results/<tenant>/, got ${aws_athena_workgroup.tenant["marketing"].configuration[0].result_configuration[0].output_location}"
  }

  assert {
    condition     = alltrue([for wg in values(aws_athena_workgroup.tenant) : wg.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_S3"])
    error_message = "results must be encrypted with SSE_S3 when no KMS key is given"
  }

  assert {
    condition     = aws_s3_bucket.results.bucket == "fs-dev-results-123456789012"
    error_message = "default bucket name must be <prefix>-<stage>-results-<account>"
  }

  assert {
    condition     = aws_s3_bucket_public_access_block.results.block_public_acls && aws_s3_bucket_public_access_block.results.block_public_policy && aws_s3_bucket_public_access_block.results.ignore_public_acls && aws_s3_bucket_public_access_block.results.restrict_public_buckets
    error_message = "the results bucket must block all public access"
  }

  assert {
    condition     = jsondecode(aws_s3_bucket_policy.results.policy).Statement[0].Effect == "Deny" && jsondecode(aws_s3_bucket_policy.results.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "the bucket policy must deny requests without TLS"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.results.rule : r if r.id == "expire-query-results"]).filter[0].prefix == "results/"
    error_message = "results/ must have a lifecycle expiry"
  }
}

run "kms_key_encrypts_bucket_and_results" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = alltrue([for wg in values(aws_athena_workgroup.tenant) : wg.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS" && wg.configuration[0].result_configuration[0].encryption_configuration[0].kms_key_arn == var.kms_key_arn])
    error_message = "results must be SSE_KMS with the given key"
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.results.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    error_message = "bucket default encryption must be aws:kms with a key"
  }
}

run "rejects_cutoff_below_athena_minimum" {
  command = plan

  variables {
    tenants = { tiny = { bytes_scanned_cutoff_per_query = 1048576 } }
  }

  expect_failures = [var.tenants]
}
