data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  glue       = "arn:${local.partition}:glue:${local.region}:${local.account_id}"

  # IAM role names are at most 64 characters; a longer one keeps its start and gets a hash of the tenant.
  full_name = { for tenant, _ in var.tenants : tenant => "${var.name_prefix}-${var.stage}-tenant-${tenant}" }
  role_name = { for tenant, name in local.full_name : tenant => length(name) <= 64 ? name : "${substr(name, 0, 55)}-${substr(md5(tenant), 0, 8)}" }

  statements = {
    for tenant, t in var.tenants : tenant => concat(
      [
        # Every Athena call about the tenant's queries: start, status, results, stop, in its workgroup only.
        {
          Sid      = "RunInOwnWorkgroup", Effect = "Allow",
          Action   = ["athena:BatchGetQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup", "athena:StartQueryExecution", "athena:StopQueryExecution"],
          Resource = [t.workgroup_arn]
        },
        # The Athena endpoint's catalog calls (fairshare.services.athena_api), made as the tenant; the Glue
        # statement below limits what they return to the tenant's databases.
        {
          Sid      = "ReadCatalogMetadata", Effect = "Allow",
          Action   = ["athena:GetDatabase", "athena:GetTableMetadata", "athena:ListDatabases", "athena:ListTableMetadata"],
          Resource = ["arn:${local.partition}:athena:${local.region}:${local.account_id}:datacatalog/AwsDataCatalog"]
        },
        # Athena reads the catalog with the caller's credentials: the tenant's databases and their tables.
        {
          Sid      = "ReadOwnCatalog", Effect = "Allow",
          Action   = ["glue:BatchGetPartition", "glue:GetDatabase", "glue:GetDatabases", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
          Resource = concat(["${local.glue}:catalog"], [for db in t.databases : "${local.glue}:database/${db}"], [for db in t.databases : "${local.glue}:table/${db}/*"])
        },
        # CTAS and INSERT INTO create and extend tables, in the tenant's own databases only.
        {
          Sid      = "WriteOwnCatalog", Effect = "Allow",
          Action   = ["glue:BatchCreatePartition", "glue:CreatePartition", "glue:CreateTable", "glue:UpdatePartition", "glue:UpdateTable"],
          Resource = concat(["${local.glue}:catalog"], [for db in t.databases : "${local.glue}:database/${db}"], [for db in t.databases : "${local.glue}:table/${db}/*"])
        },
        # Athena writes results as the caller; GetQueryResults and presigned URLs read them the same way.
        {
          Sid      = "OwnResults", Effect = "Allow",
          Action   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
          Resource = ["${var.results_bucket_arn}/${var.results_prefix}${tenant}/*"]
        },
        {
          Sid       = "ListOwnResults", Effect = "Allow",
          Action    = ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
          Resource  = [var.results_bucket_arn]
          Condition = { StringLike = { "s3:prefix" = ["${var.results_prefix}${tenant}/*", "${var.results_prefix}${tenant}/"] } }
        },
        { Sid = "LocateResultsBucket", Effect = "Allow", Action = ["s3:GetBucketLocation"], Resource = [var.results_bucket_arn] },
      ],
      length(t.data_locations) == 0 ? [] : [
        { Sid = "ReadOwnData", Effect = "Allow", Action = ["s3:GetObject"], Resource = distinct([for a in t.data_locations : "${trimsuffix(a, "/")}/*"]) },
        { Sid = "ListOwnDataBuckets", Effect = "Allow", Action = ["s3:GetBucketLocation", "s3:ListBucket"], Resource = distinct([for a in t.data_locations : regex("^(arn:[a-z-]+:s3:::[^/]+)", a)[0]]) },
      ],
      var.kms_key_arn == null ? [] : [
        { Sid = "UseStageKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.kms_key_arn] },
      ],
    )
  }

  policies = { for tenant, statements in local.statements : tenant => { Version = "2012-10-17", Statement = statements } }
}

resource "aws_iam_role" "tenant" {
  for_each = var.tenants

  name                 = local.role_name[each.key]
  path                 = "/${var.name_prefix}/${var.stage}/tenants/"
  description          = "Athena fair-share execution role of tenant ${each.key} (${var.stage}): its queries run, are read and are stopped as this role."
  max_session_duration = var.max_session_duration
  # Only the platform's functions may act as a tenant; nothing else in the account is trusted.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PlatformFunctionsOnly"
      Effect    = "Allow"
      Principal = { AWS = var.trusted_role_arns }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = merge(var.tags, { tenant = each.key })
}

resource "aws_iam_role_policy" "tenant" {
  for_each = var.tenants

  name   = "${local.role_name[each.key]}-data"
  role   = aws_iam_role.tenant[each.key].id
  policy = jsonencode(local.policies[each.key])
}
