output "role_arns" {
  description = "Execution role ARN per tenant (the configuration object's execution_role_arn)."
  value       = { for tenant, r in aws_iam_role.tenant : tenant => r.arn }
}

output "role_names" {
  description = "Execution role name per tenant."
  value       = { for tenant, r in aws_iam_role.tenant : tenant => r.name }
}

output "policies" {
  description = "The inline policy document per tenant role (for review and tests)."
  value       = local.policies
}
