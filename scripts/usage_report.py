#!/usr/bin/env python3
"""Per-tenant and per-user usage from the ledger over a date range (see --help)."""

from fairshare_tools.tooling.usage_cli import main

if __name__ == "__main__":
    main()
