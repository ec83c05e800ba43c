#!/usr/bin/env python3
"""`make localstack-test`: LocalStack up, the local stage applied, tests/e2e run, everything torn down.

Arguments, if any, name what pytest runs instead of the whole of tests/e2e (a file, a `-k` expression).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from fairshare_tools.tooling.localplatform import OUTPUTS_ENV, LocalPlatform
from rich.console import Console
from rich.table import Table


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    console = Console()
    platform = LocalPlatform(root, say=console.print)
    exit_code = 1
    try:
        with platform:
            os.environ[OUTPUTS_ENV] = str(platform.outputs_file)
            started = time.monotonic()
            args = [
                "-q",
                "-p",
                "no:cacheprovider",
                "-s",
                "-rA",
                "--durations=0",
                *(sys.argv[1:] or [str(root / "tests" / "e2e")]),
            ]
            exit_code = int(pytest.main(args))
            platform.timings["e2e tests"] = time.monotonic() - started
    finally:
        table = Table(title="local platform timings")
        table.add_column("step")
        table.add_column("seconds", justify="right")
        for step, seconds in platform.timings.items():
            table.add_row(step, f"{seconds:.1f}")
        table.add_row("total", f"{sum(platform.timings.values()):.1f}")
        console.print(table)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
