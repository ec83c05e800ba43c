# Plans prod with its tfvars against a mocked provider (what holds for every stage is checked by the
# platform module's rules and tests); prod alone keeps its data on destroy.
mock_provider "aws" { source = "../mocks" }

variables { package_path = "../../modules/functions/tests/fixtures/fairshare.zip" }

run "keeps_its_data_on_destroy" {
  command = plan

  assert {
    condition     = var.stage.force_destroy == false && var.stage.deletion_protection == true && module.platform.config_document.pools.DML.quota == 200
    error_message = "prod keeps its bucket and workgroups on destroy, protects its tables, and has the DML quota of its account"
  }
}
