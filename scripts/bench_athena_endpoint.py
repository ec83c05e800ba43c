#!/usr/bin/env python3
"""`make athena-bench`: 200 clients polling GetQueryExecution every 0.25 s on the Athena endpoint; how many
of their calls reach Athena, and the endpoint's latency (fairshare_tools.tooling.athena_bench)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from rich.console import Console
from rich.table import Table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AthenaFairshare")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "athena-fairshare-bench")
    logging.disable(logging.INFO)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from fairshare_tools.tooling.athena_bench import run

    report = run(args.clients, args.interval, args.duration, args.processes)
    table = Table(title="Athena endpoint under polling clients (in-process handler, in-memory ledger)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in report.rows():
        table.add_row(name, value)
    Console().print(table)
    return 0 if report.athena_get_calls == 0 and report.errors == 0 and report.polls > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
