#!/usr/bin/env python3
"""`make demo`: the local platform comes up and three tenants run a workload through it, live.

LocalStack starts on this machine, the `local` Terraform stage is applied (API Gateway, Lambdas on the
host executor, DynamoDB, SQS, EventBridge, CloudWatch, the Athena emulator), and the load generator
submits a burst through the tenant API. The view shows, per tenant, running and queued against its
weight, plus Athena's active count against the quota, the effective limit and the throttles. At the end:
the summary (refill and submit latency, max active against the quota) and everything is torn down.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from fairshare.client import Client
from fairshare.tooling.loadgen import LoadGenerator, LoadPlan, Snapshot, TenantTarget, percentile
from fairshare.tooling.loadgen_cli import live_table, report_table, tenant_table
from fairshare.tooling.localplatform import (
    LocalPlatform,
    aws_client,
    emulator_admin,
    refill_latencies,
    workgroup_executions,
)
from fairshare.tooling.usage import aggregate, cross_check_athena, day_range_ms, fetch_records
from fairshare.tooling.usage_cli import usage_table
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


class AthenaWatch:
    """Samples the emulator every 250 ms: active queries against the quota, and refused starts."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.state: dict[str, Any] = emulator_admin(endpoint, "state")
        self.throttled_before = self.state.get("throttled", {}).get("DML", 0)
        self.max_active = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.state = emulator_admin(self.endpoint, "state")
            except OSError:
                continue
            self.max_active = max(self.max_active, self.state["active"]["DML"])

    @property
    def throttles(self) -> int:
        return int(self.state.get("throttled", {}).get("DML", 0)) - self.throttled_before

    def __enter__(self) -> AthenaWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


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
        # Warm the API's execution environments first: the summary's submit latency is then the
        # platform's, not the first cold starts of the Lambdas on this machine.
        for key in access.api_keys.values():
            with Client(access.endpoint, key, timeout_s=60) as client:
                for _ in range(3):
                    client.usage()
        mix = tuple((float(d), float(w)) for d, w in (item.split(":") for item in durations.split(",")))
        plan = LoadPlan(
            tenants=tuple(TenantTarget(name, key) for name, key in access.api_keys.items()),
            rate_per_s=None,
            burst=burst,
            durations=mix,
            priorities=((0, 1.0), (1, 2.0), (2, 1.0)),
            database="default",
            completion_timeout_s=600,
            poll_interval_s=1.0,
            max_workers=8,
        )
        with AthenaWatch(platform.endpoint) as watch, Live(console=console, refresh_per_second=4) as live:

            def on_progress(snapshot: Snapshot) -> None:
                live.update(Group(header(watch, snapshot), live_table(snapshot)))

            generator = LoadGenerator(access.endpoint, plan, on_progress=on_progress, watch_usage_s=0.5)
            started = time.time()
            report = generator.run().as_dict()
        console.print(report_table(report))
        console.print(tenant_table(report))

        athena = aws_client("athena", platform.endpoint)
        statuses = [e["Status"] for e in workgroup_executions(athena, platform.workgroups())]
        ours = [s for s in statuses if s["SubmissionDateTime"].timestamp() >= started]
        starts = [s["SubmissionDateTime"].timestamp() for s in ours]
        completions = [s["CompletionDateTime"].timestamp() for s in ours if "CompletionDateTime" in s]
        refills = refill_latencies(starts, completions)
        summary = Table(title="athena-fairshare on the local platform", show_header=False)
        summary.add_column(style="bold")
        summary.add_column(justify="right")
        quota = watch.state["quota"]["DML"]
        for name, value in [
            ("queries", f"{report['accepted']} accepted, {report['final_statuses']}"),
            ("max active in Athena / quota", f"{watch.max_active} / {quota}"),
            ("throttles (TooManyRequests)", str(watch.throttles)),
            ("refill latency p50 / p95 (completion → next start)", _pair(refills)),
            ("submit API latency p50 / p95", f"{report['submit_latency_ms']['p50']} / "
             f"{report['submit_latency_ms']['p95']} ms"),
        ]:  # fmt: skip
            summary.add_row(name, value)
        console.print(summary)

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
        ok = report["completion_rate"] == 1.0 and watch.max_active <= quota
    return 0 if ok else 1


def _pair(values: list[float]) -> str:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    if p50 is None or p95 is None:
        return "-"
    return f"{p50:.2f} / {p95:.2f} s ({len(values)} refills)"


if __name__ == "__main__":
    sys.exit(main(standalone_mode=True))
