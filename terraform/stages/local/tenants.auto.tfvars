# Three teams with weights 3:2:1 on a quota of 20. Each may use the whole quota when the others are idle
# (max_concurrency = the quota): the weights decide the shares while they compete, and no slot idles
# while anyone waits. A cap below the quota would leave slots idle behind a lone backlogged tenant.
tenants = {
  analytics = {
    weight          = 3
    max_concurrency = 20
    databases       = ["default", "analytics"]
    data_locations  = ["arn:aws:s3:::fairshare-local-data/trips/", "arn:aws:s3:::fairshare-local-data/analytics/"]
    api_rate_limit  = 50
    api_burst_limit = 100
  }
  marketing = {
    weight             = 2
    max_concurrency    = 20
    daily_bytes_budget = 10737418240 # 10 GiB
    databases          = ["default"]
    data_locations     = ["arn:aws:s3:::fairshare-local-data/trips/"]
    api_rate_limit     = 50
    api_burst_limit    = 100
  }
  finance = {
    weight          = 1
    max_concurrency = 20
    allow_ddl       = true
    databases       = ["default", "finance"]
    data_locations  = ["arn:aws:s3:::fairshare-local-data/trips/", "arn:aws:s3:::fairshare-local-data/finance/"]
    api_rate_limit  = 50
    api_burst_limit = 100
  }
}
