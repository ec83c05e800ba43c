# The schema is docs/CONTRACTS.md "DynamoDB (module ledger)"; change both together.
locals {
  queries_gsis = {
    # Sparse: queue_tenant/queue_key exist only while a query is QUEUED.
    queued_heads = { hash_key = "queue_tenant", range_key = "queue_key" }
    tenant_time  = { hash_key = "tenant", range_key = "submitted_at" }
    # Sparse: active_pool exists only while a query is ADMITTED or RUNNING.
    active    = { hash_key = "active_pool", range_key = "admitted_at" }
    execution = { hash_key = "athena_execution_id", range_key = null }
  }

  queries_attributes = {
    query_id            = "S"
    queue_tenant        = "S"
    queue_key           = "S"
    tenant              = "S"
    submitted_at        = "N"
    active_pool         = "S"
    admitted_at         = "N"
    athena_execution_id = "S"
  }
}

resource "aws_dynamodb_table" "queries" {
  name                        = "${var.name_prefix}-${var.stage}-queries"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "query_id"
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = local.queries_attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.queries_gsis
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    #checkov:skip=CKV_AWS_119:SSE is always on; a customer-managed key is used when var.kms_key_arn is set, the AWS-owned key otherwise.
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "state" {
  name                        = "${var.name_prefix}-${var.stage}-state"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
