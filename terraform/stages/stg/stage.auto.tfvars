# The stg stage, typed and checked by modules/platform (its `stage` variable lists every setting).
# Replace the example account id with the real one before the first plan.
stage = {
  name             = "stg"
  account_id       = "222222222222"
  region           = "us-east-1"
  deploy_role_name = "athena-fairshare-deploy"

  # Athena quotas of the stg account (Service Quotas: "Active DML queries", "Active DDL queries").
  pools = {
    DML = { quota = 100, headroom = 10 }
    DDL = { quota = 20, headroom = 2 }
  }
}
