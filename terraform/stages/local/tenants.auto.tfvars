# Three teams with weights 3:2:1, small caps so that the fair share is visible with a few queries.
tenants = {
  analytics = {
    weight          = 3
    max_concurrency = 12
    databases       = ["default"]
    api_rate_limit  = 50
    api_burst_limit = 100
  }
  marketing = {
    weight             = 2
    max_concurrency    = 8
    daily_bytes_budget = 10737418240 # 10 GiB
    databases          = ["default"]
    api_rate_limit     = 50
    api_burst_limit    = 100
  }
  finance = {
    weight          = 1
    max_concurrency = 4
    allow_ddl       = true
    databases       = ["default"]
    api_rate_limit  = 50
    api_burst_limit = 100
  }
}
