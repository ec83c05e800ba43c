# Plans the local stage with its tfvars against a mocked provider; what holds for every stage is checked by
# the platform module. The local stage promises the quotas and weights the e2e tests count on.
mock_provider "aws" { source = "../mocks" }

variables {
  package_path = "../../modules/functions/tests/fixtures/fairshare.zip"
}

run "local_quotas_and_tenants" {
  command = plan

  assert {
    condition     = module.platform.config_document.stage == "local" && module.platform.config_document.pools.DML.quota == 20 && module.platform.config_document.pools.DDL.quota == 5
    error_message = "the local stage runs with a DML quota of 20 and a DDL quota of 5"
  }

  assert {
    condition     = [for t in ["analytics", "marketing", "finance"] : module.platform.config_document.tenants[t].weight] == [3, 2, 1]
    error_message = "the local tenants are analytics, marketing and finance with weights 3:2:1"
  }
}
