# S3 state of the prod stage, locked with an S3 lock file (no DynamoDB table). Nothing secret here:
# credentials come from the operator's environment. Replace the example bucket with the state bucket.
bucket       = "athena-fairshare-tfstate-333333333333"
key          = "athena-fairshare/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
