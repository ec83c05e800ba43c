# The stage account: replace the example id with the real one before the first plan.
stage      = "dev"
region     = "us-east-1"
account_id = "111111111111"

# Athena quotas of the dev account (Service Quotas: "Active DML queries", "Active DDL queries").
pools = {
  DML = { quota = 25, headroom = 5 }
  DDL = { quota = 20, headroom = 2 }
}
