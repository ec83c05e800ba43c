module "platform" {
  source       = "../../modules/platform"
  stage        = var.stage
  tenants      = var.tenants
  package_path = var.package_path
}
