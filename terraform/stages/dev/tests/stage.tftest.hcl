# Plans the stage with its tfvars against a mocked provider; what holds for every stage is checked by the
# platform module (its variables' rules, tests/platform.tftest.hcl).
mock_provider "aws" { source = "../mocks" }
variables { package_path = "../../modules/functions/tests/fixtures/fairshare.zip" }
run "plans_with_its_tfvars" { command = plan }
