module "platform" {
  source = "../../modules/platform"

  name_prefix         = var.name_prefix
  stage               = var.stage
  tenants             = var.tenants
  pools               = var.pools
  package_path        = var.package_path
  kms_key_arn         = var.kms_key_arn
  alarm_emails        = var.alarm_emails
  force_destroy       = true
  deletion_protection = false
}
