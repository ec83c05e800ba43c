# The teams sharing Athena in dev. Adding a team here adds its workgroup, API key, usage plan and
# budget alarm, and puts it in the configuration object; nothing else changes.
tenants = {
  analytics = {
    weight             = 3
    max_concurrency    = 10
    daily_bytes_budget = 1099511627776 # 1 TiB
    databases          = ["analytics", "default"]
    data_locations     = ["arn:aws:s3:::example-dev-datalake/analytics/"]
    api_rate_limit     = 20
    api_burst_limit    = 40
  }
  marketing = {
    weight             = 2
    max_concurrency    = 6
    daily_bytes_budget = 536870912000 # 500 GiB
    budget_action      = "reject"
    databases          = ["marketing"]
    data_locations     = ["arn:aws:s3:::example-dev-datalake/marketing/"]
  }
  finance = {
    weight                         = 1
    max_concurrency                = 4
    allow_ddl                      = true
    aging_seconds                  = 300
    bytes_scanned_cutoff_per_query = 107374182400 # 100 GiB
    databases                      = ["finance"]
    data_locations                 = ["arn:aws:s3:::example-dev-datalake/finance/"]
  }
}
