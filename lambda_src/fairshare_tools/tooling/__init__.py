"""Operator and tenant tooling: Terraform adapter, usage report, load generator, in-memory tenant API.

Only `scripts/` and `fairshare_tools.cli` import this package; the Lambda handlers never do.
"""
