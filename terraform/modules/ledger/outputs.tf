output "queries_table_name" {
  description = "Name of the queries table."
  value       = aws_dynamodb_table.queries.name
}

output "queries_table_arn" {
  description = "ARN of the queries table."
  value       = aws_dynamodb_table.queries.arn
}

output "queries_index_arns" {
  description = "ARNs of the queries table's GSIs (\"<table arn>/index/<name>\"), for IAM."
  value       = [for name in keys(local.queries_gsis) : "${aws_dynamodb_table.queries.arn}/index/${name}"]
}

output "state_table_name" {
  description = "Name of the state table."
  value       = aws_dynamodb_table.state.name
}

output "state_table_arn" {
  description = "ARN of the state table."
  value       = aws_dynamodb_table.state.arn
}
