# The teams sharing Athena in prod. Adding a team here adds its workgroup, API key, usage plan and
# budget alarm, and puts it in the configuration object; nothing else changes.
tenants = {
  analytics = {
    weight             = 3
    max_concurrency    = 60
    max_queued         = 5000
    daily_bytes_budget = 10995116277760 # 10 TiB
    priority_levels    = 5
    aging_seconds      = 600
    databases          = ["analytics", "default"]
    data_locations     = ["arn:aws:s3:::example-prod-datalake/analytics/"]
    api_rate_limit     = 50
    api_burst_limit    = 100
  }
  marketing = {
    weight             = 2
    max_concurrency    = 40
    daily_bytes_budget = 5497558138880 # 5 TiB
    budget_action      = "reject"
    databases          = ["marketing"]
    data_locations     = ["arn:aws:s3:::example-prod-datalake/marketing/"]
  }
  finance = {
    weight                         = 1
    max_concurrency                = 20
    allow_ddl                      = true
    daily_bytes_budget             = 2199023255552 # 2 TiB
    bytes_scanned_cutoff_per_query = 536870912000  # 500 GiB
    databases                      = ["finance"]
    data_locations                 = ["arn:aws:s3:::example-prod-datalake/finance/"]
  }
}
