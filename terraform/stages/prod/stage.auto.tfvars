# The prod stage, typed and checked by modules/platform (its `stage` variable lists every setting).
# Replace the example account id with the real one before the first plan.
stage = {
  name             = "prod"
  account_id       = "333333333333"
  region           = "us-east-1"
  deploy_role_name = "athena-fairshare-deploy"

  # Athena quotas of the prod account (Service Quotas: "Active DML queries", "Active DDL queries").
  pools = {
    DML = { quota = 200, headroom = 20 }
    DDL = { quota = 20, headroom = 4 }
  }

  # prod keeps its bucket and workgroups on destroy and protects its tables.
  force_destroy       = false
  deletion_protection = true
}
