#!/usr/bin/env python3
"""Terraform per stage with guard rails: `deploy.py STAGE {init,plan,apply,output,destroy}` (see --help)."""

from fairshare_tools.tooling.deploy_cli import main

if __name__ == "__main__":
    main()
