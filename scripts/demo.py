#!/usr/bin/env python3
"""`make demo`: the local platform comes up and three tenants run a workload through it, live.

LocalStack starts on this machine, the `local` Terraform stage is applied (API Gateway, Lambdas on the
host executor, DynamoDB, SQS, EventBridge, CloudWatch, the Athena emulator), and the load generator
submits a burst through the tenant API. The view shows, per tenant, running and queued against its
weight, plus Athena's active count against the quota, the effective limit and the throttles. At the end:
the summary (mean active against the quota while queries wait, makespan against the ideal, refill and
submit latency, shares against the weights), the same workload sent straight to Athena by callers that
retry TooManyRequests (what a team does without the platform), and everything is torn down.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from fairshare_tools.tooling.loadgen import LoadGenerator, LoadPlan, Snapshot, TenantTarget
from fairshare_tools.tooling.loadgen_cli import live_table, report_table, tenant_table
from fairshare_tools.tooling.localplatform import LocalPlatform, aws_client
from fairshare_tools.tooling.loopbench_cli import (
    AthenaWatch,
    platform_figures,
    run_direct,
    stage_config,
    warm_up,
)
from fairshare_tools.tooling.usage import aggregate, cross_check_athena, day_range_ms, fetch_records
from fairshare_tools.tooling.usage_cli import usage_table
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


def header(watch: AthenaWatch, snapshot: Snapshot) -> Text:
    quota = watch.state["quota"]["DML"]
    limits = {name: usage.effective_limit.get("DML") for name, usage in snapshot.usage.items()}
    limit = next(iter(limits.values()), None)
    return Text(
        f"Athena active {watch.state['active']['DML']}/{quota} (max {watch.max_active})   "
        f"effective limit {limit if limit is not None else '-'}   throttles {watch.throttles}",
        style="bold",
    )


@click.command()
@click.option("--burst", default=40, show_default=True, help="queries per tenant, submitted at once")
@click.option("--durations", default="2:1,5:1", show_default=True, help="emulated run seconds:weight mix")
def main(burst: int, durations: str) -> int:
    root = Path(__file__).resolve().parent.parent
    # A log file or CI gets wide tables too (rich assumes 80 columns when it cannot ask a terminal).
    console = Console() if sys.stdout.isatty() else Console(width=160)
    with LocalPlatform(root, say=console.print) as platform:
        access = platform.access()
        # Warm the functions, and as many API execution environments as there are senders: the summary's
        # latencies are then the platform's, not the first cold starts of the Lambdas on this machine.
        warm_up(platform, senders=8)
        mix = tuple((float(d), float(w)) for d, w in (item.split(":") for item in durations.split(",")))
        plan = LoadPlan(
            tenants=tuple(TenantTarget(name, key) for name, key in access.api_keys.items()),
            rate_per_s=None,
            burst=burst,
            durations=mix,
            priorities=((0, 1.0), (1, 2.0), (2, 1.0)),
            database="default",
            completion_timeout_s=600,
            poll_interval_s=2.0,
            max_workers=8,
        )
        weights = {name: float(t["weight"]) for name, t in stage_config(platform)["tenants"].items()}
        since_ms = int(time.time() * 1000) - 1000
        with AthenaWatch(platform.endpoint) as watch, Live(console=console, refresh_per_second=4) as live:

            def on_progress(snapshot: Snapshot) -> None:
                live.update(Group(header(watch, snapshot), live_table(snapshot)))

            generator = LoadGenerator(
                access.endpoint, plan, on_progress=on_progress, watch_usage_s=1.0, clock=time.time
            )
            result = generator.run()
            report = result.as_dict()
        console.print(report_table(report))
        console.print(tenant_table(report))
        figures, _ = platform_figures(platform, result, watch, weights, since_ms)
        console.print("the same workload straight to Athena, each query its own retrying caller ...")
        direct = run_direct(platform, plan, weights, console)
        console.print(summary_table(figures, direct, report, watch))
        athena = aws_client("athena", platform.endpoint)

        # What the platform owners' usage report says about this run, from the ledger (and Athena).
        today = datetime.now(tz=UTC).date()
        start_ms, end_ms = day_range_ms(today, today)
        dynamodb = aws_client("dynamodb", platform.endpoint)
        records = list(fetch_records(dynamodb, str(access.queries_table), start_ms, end_ms))
        console.print(usage_table(aggregate(records), today, today))
        check = cross_check_athena(athena, records)
        console.print(
            f"usage report: {len(records)} queries; bytes checked against Athena for {check.checked}, "
            f"{len(check.mismatches)} mismatches"
        )
        ok = report["completion_rate"] == 1.0 and watch.max_active <= watch.quota
    return 0 if ok else 1


def summary_table(
    figures: dict[str, Any], direct: dict[str, Any], report: dict[str, Any], watch: AthenaWatch
) -> Table:
    """What the platform bought: its loop figures, and one line for direct callers on the same work."""
    summary = Table(title="athena-fairshare on the local platform", show_header=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    refill, submit = figures["refill_s"], figures["submit_ms"]
    makespan = f"{_value(figures['makespan_s'])} s (ideal {figures['ideal_s']} s)"
    refills = f"{_value(refill['p50'])} / {_value(refill['p95'])} s"
    shares = ", ".join(
        f"{name} {t['share']:.2f} (w {t['target_share']:.2f})"
        for name, t in figures["tenants"].items()
        if t.get("share") is not None and t.get("target_share") is not None
    )
    rows = [
        ("queries", f"{report['accepted']} accepted, {report['final_statuses']}"),
        ("max active in Athena / quota", f"{watch.max_active} / {watch.quota}"),
        ("mean active ÷ quota while a quota's worth waits", _value(figures["mean_active_over_quota"])),
        ("makespan (ideal = Σ run times ÷ quota)", makespan),
        ("throttles (TooManyRequests)", str(figures["throttles"])),
        ("refill latency p50 / p95 (completion → next start)", refills),
        ("submit API latency p50 / p95", f"{_value(submit['p50'])} / {_value(submit['p95'])} ms"),
        ("shares of slot-seconds while all wait (weight share)", shares or "-"),
        (
            "direct callers, same workload (no platform)",
            f"makespan {_value(direct['makespan_s'])} s, mean active ÷ quota "
            f"{_value(direct['mean_active_over_quota'])}, {direct['throttles']} throttles",
        ),
    ]  # fmt: skip
    for name, value in rows:
        summary.add_row(name, value)
    return summary


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value}"


if __name__ == "__main__":
    sys.exit(main(standalone_mode=True))
