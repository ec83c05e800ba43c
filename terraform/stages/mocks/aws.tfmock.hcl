# Mocked data of the aws provider for the stage roots' plan tests (tests/stage.tftest.hcl of each stage):
# the ARNs the modules build must pass the provider's validation.
mock_data "aws_caller_identity" {
  defaults = { account_id = "000000000000" }
}
mock_data "aws_region" {
  defaults = { name = "us-east-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
