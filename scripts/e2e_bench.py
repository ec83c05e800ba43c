#!/usr/bin/env python3
"""`make e2e-bench`: the control loop on the local platform, beside direct Athena callers."""

from fairshare_tools.tooling.loopbench_cli import main

if __name__ == "__main__":
    main()
