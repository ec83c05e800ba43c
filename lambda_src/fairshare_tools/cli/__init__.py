"""Command-line tools of athena-fairshare (`tenantctl`). Never imported by the Lambda handlers."""
