# The stage account: replace the example id with the real one before the first plan.
stage      = "stg"
region     = "us-east-1"
account_id = "222222222222"

pools = {
  DML = { quota = 100, headroom = 10 }
  DDL = { quota = 20, headroom = 2 }
}
