# The local stage on LocalStack, typed and checked by modules/platform (its `stage` variable lists every
# setting). The Lambdas' endpoints come from variables.tf (main.tf adds them as extra_environment).
stage = {
  name   = "local"
  region = "us-east-1"

  # Small quotas so that contention, fairness and throttles show within seconds.
  pools = {
    DML = { quota = 20, headroom = 0, recovery_interval_s = 5 }
    DDL = { quota = 5, headroom = 0 }
  }

  log_level                       = "DEBUG"
  dispatcher_reserved_concurrency = -1
  # The end-to-end tests invoke redrive themselves and watch a message sit in a DLQ until its alarm
  # fires, so the scheduled redrive stays out of their way.
  redrive_schedule  = "rate(1 hour)"
  max_receive_count = 2
  # A short completion timeout keeps the events queue's visibility timeout (6x) at one minute, and a
  # short event grace lets the tick reconcile a query whose event was lost within a minute.
  function_timeouts   = { completion = 10 }
  scheduler           = { event_grace_s = 15 }
  force_destroy       = true
  deletion_protection = false
}
