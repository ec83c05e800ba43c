output "function_names" {
  description = "Function name per handler (api, dispatcher, completion, redrive)."
  value       = { for fn, f in aws_lambda_function.fn : fn => f.function_name }
}

output "function_arns" {
  description = "Function ARN per handler."
  value       = { for fn, f in aws_lambda_function.fn : fn => f.arn }
}

output "invoke_arns" {
  description = "Invoke ARN per handler (for API Gateway integrations)."
  value       = { for fn, f in aws_lambda_function.fn : fn => f.invoke_arn }
}

output "role_arns" {
  description = "Execution role ARN per handler."
  value       = { for fn, r in aws_iam_role.fn : fn => r.arn }
}

output "log_group_names" {
  description = "Log group name per handler."
  value       = { for fn, g in aws_cloudwatch_log_group.fn : fn => g.name }
}

output "config_s3_uri" {
  description = "FAIRSHARE_CONFIG_S3_URI given to every function."
  value       = local.config_s3_uri
}

output "policies" {
  description = "The inline IAM policy document per handler (for review and tests)."
  value       = local.policies
}

output "timeouts" {
  description = "Effective timeout in seconds per handler (defaults merged with var.timeouts)."
  value       = local.timeouts
}

output "role_names" {
  description = "Execution role name per handler."
  value       = { for fn, r in aws_iam_role.fn : fn => r.name }
}
