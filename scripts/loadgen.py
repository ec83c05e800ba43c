#!/usr/bin/env python3
"""Load-test a stage's tenant API: N tenants, a rate or a burst, a mix of durations and priorities."""

from fairshare_tools.tooling.loadgen_cli import main

if __name__ == "__main__":
    main()
