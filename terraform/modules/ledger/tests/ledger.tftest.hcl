mock_provider "aws" {}

variables {
  name_prefix = "fs"
  stage       = "dev"
}

run "tables_match_the_contract" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.queries.name == "fs-dev-queries" && aws_dynamodb_table.state.name == "fs-dev-state"
    error_message = "table names must be <prefix>-<stage>-queries and -state"
  }

  assert {
    condition     = aws_dynamodb_table.queries.hash_key == "query_id" && aws_dynamodb_table.state.hash_key == "pk"
    error_message = "hash keys must be query_id (queries) and pk (state)"
  }

  assert {
    condition     = aws_dynamodb_table.queries.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.state.billing_mode == "PAY_PER_REQUEST"
    error_message = "both tables must be on-demand"
  }

  assert {
    condition     = toset([for g in aws_dynamodb_table.queries.global_secondary_index : g.name]) == toset(["queued_heads", "tenant_time", "active", "execution"])
    error_message = "queries must have exactly the GSIs queued_heads, tenant_time, active, execution"
  }

  assert {
    condition     = one([for g in aws_dynamodb_table.queries.global_secondary_index : g if g.name == "queued_heads"]).range_key == "queue_key" && one([for g in aws_dynamodb_table.queries.global_secondary_index : g if g.name == "active"]).hash_key == "active_pool"
    error_message = "queued_heads must be ranged by queue_key and active hashed by active_pool"
  }

  assert {
    condition     = alltrue([for g in aws_dynamodb_table.queries.global_secondary_index : g.projection_type == "ALL"])
    error_message = "every GSI projects ALL"
  }

  assert {
    condition     = one([for a in aws_dynamodb_table.queries.attribute : a if a.name == "submitted_at"]).type == "N" && one([for a in aws_dynamodb_table.queries.attribute : a if a.name == "queue_key"]).type == "S"
    error_message = "submitted_at must be N and queue_key S"
  }

  assert {
    condition     = aws_dynamodb_table.queries.ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.queries.ttl[0].enabled
    error_message = "TTL must be on expires_at"
  }

  assert {
    condition     = aws_dynamodb_table.queries.point_in_time_recovery[0].enabled && aws_dynamodb_table.state.point_in_time_recovery[0].enabled
    error_message = "PITR must be on for both tables"
  }

  assert {
    condition     = aws_dynamodb_table.queries.server_side_encryption[0].enabled && aws_dynamodb_table.state.server_side_encryption[0].enabled
    error_message = "SSE must be on for both tables"
  }
}

run "customer_key_is_used_when_given" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_dynamodb_table.queries.server_side_encryption[0].kms_key_arn == var.kms_key_arn && aws_dynamodb_table.state.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "both tables must use the given key"
  }
}
