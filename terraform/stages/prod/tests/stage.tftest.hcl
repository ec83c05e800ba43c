# Plans the stage with a mocked provider: the tfvars type-check against the platform module and render
# a configuration object; no AWS (or LocalStack) is called.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "000000000000" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  package_path = "../../modules/functions/tests/fixtures/fairshare.zip"
}

run "plans_with_the_stage_tenants" {
  command = plan

  assert {
    condition     = toset(keys(output.workgroup_names)) == toset(keys(var.tenants)) && toset(keys(module.platform.config_document.tenants)) == toset(keys(var.tenants))
    error_message = "every tenant of tenants.auto.tfvars must get a workgroup and a configuration entry"
  }

  assert {
    condition     = module.platform.config_document.pools.DML.quota - module.platform.config_document.pools.DML.headroom >= 1
    error_message = "the DML pool must leave at least one slot to the platform"
  }
}
