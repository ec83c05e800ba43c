# The stage account: replace the example id with the real one before the first plan.
stage      = "prod"
region     = "us-east-1"
account_id = "333333333333"

pools = {
  DML = { quota = 200, headroom = 20 }
  DDL = { quota = 20, headroom = 4 }
}
