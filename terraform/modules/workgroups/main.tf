data "aws_caller_identity" "current" {}

locals {
  bucket_name    = coalesce(var.bucket_name, "${var.name_prefix}-${var.stage}-results-${data.aws_caller_identity.current.account_id}")
  use_kms        = var.kms_key_arn != null
  workgroup_name = { for tenant, _ in var.tenants : tenant => "${var.name_prefix}-${var.stage}-${tenant}" }
}

resource "aws_s3_bucket" "results" {
  #checkov:skip=CKV_AWS_18:Query results are short-lived per-tenant objects; server access logs would need a log bucket per stage. Object-level audit belongs to the account's CloudTrail S3 data events.
  #checkov:skip=CKV_AWS_144:Query results expire within days and can be recomputed; cross-region replication would double the cost for no recovery need.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events of the results bucket; completion is driven by Athena's EventBridge events.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_versioning" "results" {
  bucket = aws_s3_bucket.results.id

  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    id     = "expire-query-results"
    status = "Enabled"

    filter {
      prefix = var.results_prefix
    }

    expiration {
      days = var.results_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.results_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "clean-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.results]
}

resource "aws_s3_bucket_policy" "results" {
  bucket = aws_s3_bucket.results.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # A bucket policy before the public access block can be rejected as "public".
  depends_on = [aws_s3_bucket_public_access_block.results]
}

resource "aws_athena_workgroup" "tenant" {
  for_each = var.tenants

  name          = local.workgroup_name[each.key]
  description   = "Athena fair-share workgroup of tenant ${each.key} (${var.stage})"
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = each.value.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = var.engine_version
    }

    result_configuration {
      output_location       = "s3://${aws_s3_bucket.results.bucket}/${var.results_prefix}${each.key}/"
      expected_bucket_owner = data.aws_caller_identity.current.account_id

      encryption_configuration {
        encryption_option = local.use_kms ? "SSE_KMS" : "SSE_S3"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = merge(var.tags, { tenant = each.key })
}
