# What the tools read (fairshare_tools.tooling.stage), as one object; the tenants' API keys apart, as secrets.
output "platform" { value = module.platform.stage_outputs }
output "api_key_values" {
  value     = module.platform.api_key_values
  sensitive = true
}
