output "bucket_name" {
  description = "Name of the results bucket (also holds config/fairshare.json)."
  value       = aws_s3_bucket.results.bucket
}

output "bucket_arn" {
  description = "ARN of the results bucket."
  value       = aws_s3_bucket.results.arn
}

output "results_prefix" {
  description = "Key prefix under which each tenant's results live (<prefix><tenant>/)."
  value       = var.results_prefix
}

output "workgroup_names" {
  description = "Workgroup name per tenant."
  value       = { for tenant, wg in aws_athena_workgroup.tenant : tenant => wg.name }
}

output "workgroup_arns" {
  description = "Workgroup ARN per tenant."
  value       = { for tenant, wg in aws_athena_workgroup.tenant : tenant => wg.arn }
}
