# The dev stage, typed and checked by modules/platform (its `stage` variable lists every setting).
# Replace the example account id with the real one before the first plan.
stage = {
  name             = "dev"
  account_id       = "111111111111"
  region           = "us-east-1"
  deploy_role_name = "athena-fairshare-deploy"

  # Athena quotas of the dev account (Service Quotas: "Active DML queries", "Active DDL queries").
  pools = {
    DML = { quota = 25, headroom = 5 }
    DDL = { quota = 20, headroom = 2 }
  }
}
