"""`make e2e-bench`: the control loop measured on the local platform, beside direct Athena callers.

For each workload (the demo's burst; a steady open-loop arrival that saturates the quota) it runs the
workload through the tenant API, then the same schedule straight to the emulated Athena by callers that
retry TooManyRequests, and prints both rows, the per-tenant shares, the refill path hop by hop, the
dispatcher's round costs, and what the simulator predicts from the measured delays.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from fairshare_tools.client import Client
from fairshare_tools.tooling.loadgen import (
    LoadGenerator,
    LoadPlan,
    LoadReport,
    TenantTarget,
    percentile,
    schedule,
)
from fairshare_tools.tooling.localplatform import LocalPlatform, aws_client, emulator_admin
from fairshare_tools.tooling.loopbench import (
    HOPS,
    Admission,
    Backlog,
    DirectCaller,
    Release,
    Sample,
    Timing,
    hop_breakdown,
    loop_figures,
)
from fairshare_tools.tooling.stage import output_value
from fairshare_tools.tooling.usage import fetch_records

DURATIONS = ((2.0, 1.0), (5.0, 1.0))
PRIORITIES = ((0, 1.0), (1, 2.0), (2, 1.0))
SCANNED = ((10_485_760, 1.0),)


class AthenaWatch:
    """Samples the emulator's active DML count every 250 ms; counts the starts it refused."""

    def __init__(self, endpoint: str, interval_s: float = 0.25) -> None:
        self.endpoint = endpoint
        self.interval_s = interval_s
        self.state: dict[str, Any] = emulator_admin(endpoint, "state")
        self.throttled_before = int(self.state.get("throttled", {}).get("DML", 0))
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="athena-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.state = emulator_admin(self.endpoint, "state")
            except OSError:
                continue
            self.samples.append(Sample(time.time(), int(self.state["active"]["DML"])))

    @property
    def quota(self) -> int:
        return int(self.state["quota"]["DML"])

    @property
    def max_active(self) -> int:
        return max((s.active for s in self.samples), default=0)

    @property
    def throttles(self) -> int:
        return int(self.state.get("throttled", {}).get("DML", 0)) - self.throttled_before

    def __enter__(self) -> AthenaWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.state = emulator_admin(self.endpoint, "state")


def wait_idle(endpoint: str, timeout_s: float = 120.0) -> None:
    """Until the emulated Athena has nothing active (a run must not inherit the last one's load)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if emulator_admin(endpoint, "state")["active"]["DML"] == 0:
            return
        time.sleep(0.5)
    raise click.ClickException(f"Athena still has active queries after {timeout_s:.0f} s")


def executions_by_id(athena: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for first in range(0, len(ids), 50):
        answer = athena.batch_get_query_execution(QueryExecutionIds=ids[first : first + 50])
        found.update((e["QueryExecutionId"], e) for e in answer.get("QueryExecutions", []))
    return found


def _status_times(execution: dict[str, Any] | None) -> tuple[float | None, float | None]:
    if execution is None:
        return None, None
    status = execution["Status"]
    submitted = status.get("SubmissionDateTime")
    completed = status.get("CompletionDateTime")
    return (
        submitted.timestamp() if submitted is not None else None,
        completed.timestamp() if completed is not None else None,
    )


def completion_log_lines(logs: Any, function_name: str, since_ms: int) -> dict[str, dict[str, Any]]:
    """The completion handler's `state change` lines that finalized a query, by execution id."""
    group = f"/aws/lambda/{function_name}"
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
            for event in page.get("events", []):
                message = event.get("message", "")
                if '"state change"' not in message:
                    continue
                try:
                    line = json.loads(message[message.index("{") :])
                except ValueError:
                    continue
                if line.get("outcome") == "finalized" and "sqs_sent_ms" in line:
                    found[str(line["athena_execution_id"])] = line
    except logs.exceptions.ResourceNotFoundException:
        return {}
    return found


def dispatcher_round_costs(logs: Any, function_name: str, since_ms: int) -> dict[str, Any]:
    """What a round of the dispatcher cost: its ledger reads, claims and starts (from its round lines)."""
    rounds: list[dict[str, Any]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function_name}", startTime=since_ms
        ):
            for event in page.get("events", []):
                message = event.get("message", "")
                if '"round_cost"' not in message:
                    continue
                try:
                    rounds.append(json.loads(message[message.index("{") :])["round_cost"])
                except (ValueError, KeyError):
                    continue
    except logs.exceptions.ResourceNotFoundException:
        return {}
    return summarise_rounds(rounds)


def summarise_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    if not rounds:
        return {"rounds": 0}
    out: dict[str, Any] = {"rounds": len(rounds)}
    for key in ("snapshot_ms", "admit_ms", "total_ms", "started", "claims"):
        values = [float(r[key]) for r in rounds if key in r]
        out[key] = {"p50": percentile(values, 50), "p95": percentile(values, 95)} if values else None
    out["with_starts"] = sum(1 for r in rounds if r.get("started"))
    return out


def run_platform(
    platform: LocalPlatform, plan: LoadPlan, weights: dict[str, float], console: Console
) -> tuple[dict[str, Any], list[Timing]]:
    access = platform.access()
    wait_idle(platform.endpoint)
    since_ms = int(time.time() * 1000) - 1000
    with AthenaWatch(platform.endpoint) as watch:
        generator = LoadGenerator(access.endpoint, plan, clock=time.time)
        report = generator.run()
    return platform_figures(platform, report, watch, weights, since_ms)


def platform_figures(
    platform: LocalPlatform, report: LoadReport, watch: AthenaWatch, weights: dict[str, float], since_ms: int
) -> tuple[dict[str, Any], list[Timing]]:
    """The loop's figures of a load generator's run through the platform (its clock: `time.time`),
    from the ledger, the emulated Athena and the completion handler's log lines."""
    access = platform.access()
    dynamodb = aws_client("dynamodb", platform.endpoint)
    ids = {r.query_id for r in report.records if r.query_id}
    ledger = {
        r.query_id: r
        for r in fetch_records(dynamodb, str(access.queries_table), since_ms, int(time.time() * 1000))
        if r.query_id in ids
    }
    athena = aws_client("athena", platform.endpoint)
    executions = executions_by_id(
        athena, sorted(r.athena_execution_id for r in ledger.values() if r.athena_execution_id)
    )
    timings: list[Timing] = []
    releases: list[Release] = []
    admissions: list[Admission] = []
    published = {e["id"]: float(e["at"]) for e in emulator_admin(platform.endpoint, "published")["events"]}
    names = output_value(platform.outputs, "function_names") or {}
    logs = aws_client("logs", platform.endpoint)
    handled = completion_log_lines(logs, str(names.get("completion")), since_ms)
    for record in report.records:
        entry = ledger.get(record.query_id or "")
        if entry is None or record.submit_started is None:
            continue
        execution = executions.get(entry.athena_execution_id or "")
        started, completed = _status_times(execution)
        timings.append(
            Timing(
                tenant=record.planned.tenant.name,
                submitted=record.submit_started,
                started=started,
                completed=completed,
                run_s=record.planned.duration_s,
                submit_latency_s=record.submit_latency_s,
            )
        )
        if entry.admitted_at and entry.started_at:
            admissions.append(Admission(entry.admitted_at / 1000, entry.started_at / 1000))
        if completed is not None and entry.finished_at and entry.athena_execution_id:
            line = handled.get(entry.athena_execution_id, {})
            releases.append(
                Release(
                    completed=completed,
                    published=published.get(entry.athena_execution_id),
                    queued=line["sqs_sent_ms"] / 1000 if "sqs_sent_ms" in line else None,
                    handled=line["handled_ms"] / 1000 if "handled_ms" in line else None,
                    released=entry.finished_at / 1000,
                )
            )
    figures = loop_figures(timings, watch.samples, watch.quota, weights, watch.throttles)
    figures["hops"] = hop_breakdown(releases, admissions, Backlog(timings))
    figures["rounds"] = {
        "dispatcher": dispatcher_round_costs(logs, str(names.get("dispatcher")), since_ms),
        "completion refill": dispatcher_round_costs(logs, str(names.get("completion")), since_ms),
    }
    figures["lost"] = sum(1 for r in report.records if r.query_id and r.final_status != "SUCCEEDED")
    return figures, timings


def run_direct(
    platform: LocalPlatform, plan: LoadPlan, weights: dict[str, float], console: Console
) -> dict[str, Any]:
    import boto3
    from botocore.config import Config as BotoConfig

    wait_idle(platform.endpoint)
    workgroups = output_value(platform.outputs, "workgroup_names") or {}
    athena = boto3.client(
        "athena",
        endpoint_url=platform.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=1000),
    )
    planned = schedule(plan)
    with AthenaWatch(platform.endpoint) as watch:
        caller = DirectCaller(athena, workgroups, plan.database or "default", plan.sql_template)
        results = caller.run(planned, timeout_s=plan.completion_timeout_s)
    executions = executions_by_id(athena, [e for _, _, e in results if e])
    timings = []
    for query, submitted, execution_id in results:
        started, completed = _status_times(executions.get(execution_id or ""))
        timings.append(Timing(query.tenant.name, submitted, started, completed, query.duration_s))
    figures = loop_figures(timings, watch.samples, watch.quota, weights, watch.throttles)
    figures["lost"] = sum(1 for t in timings if t.completed is None)
    return figures


def predict(
    plan: LoadPlan,
    tenants: dict[str, dict[str, Any]],
    quota: int,
    event_delay_s: float,
    timings: list[Timing],
) -> dict[str, Any]:
    """The simulator's fairshare policy on the same work: each query arrives when its submit was
    accepted in the measured run, and a completion reaches the dispatcher after the measured refill delay."""
    from fairshare_tools.simulation.engine import simulate
    from fairshare_tools.simulation.scenario import parse_scenario

    spread = {str(p): w / sum(w for _, w in plan.priorities) for p, w in plan.priorities}
    first = min(t.submitted for t in timings)
    specs: dict[str, Any] = {}
    for target in plan.tenants:
        config = tenants[target.name]
        accepted = sorted(
            t.submitted + (t.submit_latency_s or 0.0) - first for t in timings if t.tenant == target.name
        )
        specs[target.name] = {
            "weight": config["weight"],
            "max_concurrency": config["max_concurrency"],
            "max_queued": 100_000,
            "arrivals": [{"kind": "burst", "at_s": round(at, 3), "count": 1} for at in accepted],
            "duration_s": {"kind": "choice", "values": [list(d) for d in plan.durations]},
            "priorities": spread,
        }
    horizon = (plan.duration_s if plan.burst is None else 0) + 3600
    scenario = parse_scenario(
        {
            "name": "e2e-bench",
            "duration_s": horizon,
            "event_delay_s": event_delay_s,
            "pools": {"DML": {"quota": quota, "headroom": 0}, "DDL": {"quota": 5, "headroom": 0}},
            "tenants": specs,
        }
    )
    result = simulate(scenario, ["fairshare"])["policies"]["fairshare"]
    return {"makespan_s": result.get("last_completion_s"), "utilization": result.get("utilization")}


def _fmt(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def workload_table(name: str, rows: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=f"{name}: the platform beside direct callers", title_justify="left")
    for column in (
        "run", "queries", "makespan s", "ideal s", "÷ ideal", "mean active ÷ quota", "max ÷ quota",
        "refill p50/p95/p99 s", "submit p50/p95 ms", "throttles", "unfinished",
    ):  # fmt: skip
        table.add_column(column, justify="right" if column != "run" else "left")
    for run, f in rows.items():
        refill = f.get("refill_s", {})
        submit = f.get("submit_ms", {})
        table.add_row(
            run,
            str(f.get("queries")),
            _fmt(f.get("makespan_s")),
            _fmt(f.get("ideal_s")),
            _fmt(f.get("makespan_over_ideal")),
            _fmt(f.get("mean_active_over_quota")),
            _fmt(f.get("max_active_over_quota")),
            f"{_fmt(refill.get('p50'))} / {_fmt(refill.get('p95'))} / {_fmt(refill.get('p99'))}",
            f"{_fmt(submit.get('p50'))} / {_fmt(submit.get('p95'))}"
            if submit.get("p50") is not None
            else "-",
            str(f.get("throttles")),
            str(f.get("lost")),
        )
    return table


def share_table(name: str, rows: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        title=f"{name}: shares of slot-seconds while every tenant waits; end to end", title_justify="left"
    )
    for column in ("run", "tenant", "weight", "target", "share", "error", "e2e p50 s", "e2e p95 s"):
        table.add_column(column, justify="left" if column in ("run", "tenant") else "right")
    for run, f in rows.items():
        for tenant, t in f["tenants"].items():
            error = t.get("share_error")
            table.add_row(
                run, tenant, _fmt(t.get("weight")), _fmt(t.get("target_share")), _fmt(t.get("share")),
                "-" if error is None else f"{error * 100:+.1f}%",
                _fmt(t.get("e2e_p50_s")), _fmt(t.get("e2e_p95_s")),
            )  # fmt: skip
    return table


LOCALSTACK_HOPS = {"bus_to_queue", "queue_to_handler"}


def hop_table(name: str, hops: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=f"{name}: the refill path, hop by hop (platform)", title_justify="left")
    for column in ("hop", "whose", "count", "p50 s", "p95 s"):
        table.add_column(column, justify="left" if column in ("hop", "whose") else "right")
    for key, label in (*HOPS, ("total", "Athena terminal → next StartQueryExecution returned")):
        hop = hops.get(key, {})
        whose = (
            "LocalStack" if key in LOCALSTACK_HOPS else ("emulator" if key == "athena_to_bus" else "design")
        )
        table.add_row(
            label,
            "" if key == "total" else whose,
            _fmt(hop.get("count")),
            _fmt(hop.get("p50")),
            _fmt(hop.get("p95")),
        )
    return table


def plans(tenants: tuple[TenantTarget, ...], steady_rate: float, steady_s: float) -> dict[str, LoadPlan]:
    common: dict[str, Any] = {
        "tenants": tenants, "priorities": PRIORITIES, "scanned": SCANNED, "database": "default",
        "completion_timeout_s": 600.0, "poll_interval_s": 5.0, "max_workers": 8,
    }  # fmt: skip
    return {
        "burst": LoadPlan(rate_per_s=None, burst=40, durations=DURATIONS, **common),
        # 5/s of 4-5 s queries offers 22.5 slots to a quota of 20: saturated for the whole run.
        "steady": LoadPlan(
            rate_per_s=steady_rate, duration_s=steady_s, durations=((4.0, 1.0), (5.0, 1.0)), **common
        ),
    }


def stage_config(platform: LocalPlatform) -> dict[str, Any]:
    """The configuration document the Lambdas load (weights and caps as they are in force)."""
    uri = str(output_value(platform.outputs, "config_s3_uri"))
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = aws_client("s3", platform.endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def warm_up(platform: LocalPlatform, senders: int) -> None:
    """Every function warm, and as many API execution environments as there are parallel senders:
    the run then measures the platform, not this machine's cold starts (Lambda keeps them warm too)."""
    access = platform.access()
    keys = list(access.api_keys.values())

    def touch(index: int) -> None:
        with Client(access.endpoint, keys[index % len(keys)], timeout_s=60) as client:
            client.usage()

    with ThreadPoolExecutor(max_workers=senders) as pool:
        for _ in range(3):
            list(pool.map(touch, range(senders)))
    for key in keys:
        with Client(access.endpoint, key, timeout_s=60) as client:
            ids = [
                client.submit("SELECT 1 /* fairshare:duration=0.5 */", database="default").query_id
                for _ in range(3)
            ]
            for query_id in ids:
                client.wait(query_id, timeout_s=120)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workloads", default="burst,steady", show_default=True, help="comma-separated: burst, steady")
@click.option("--steady-rate", default=5.0, show_default=True, help="steady arrivals per second, all tenants")
@click.option("--steady-seconds", default=200.0, show_default=True, help="how long the steady arrival lasts")
@click.option("--skip-direct", is_flag=True, help="only the platform's row")
@click.option("--keep", is_flag=True, help="leave the local platform up afterwards (and reuse a running one)")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="write the figures here"
)
def main(
    workloads: str,
    steady_rate: float,
    steady_seconds: float,
    skip_direct: bool,
    keep: bool,
    json_path: Path | None,
) -> None:
    root = Path(__file__).resolve().parents[3]
    console = Console() if sys.stdout.isatty() else Console(width=180)
    chosen = [w.strip() for w in workloads.split(",") if w.strip()]
    unknown = set(chosen) - {"burst", "steady"}
    if unknown:
        raise click.UsageError(f"unknown workload(s): {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {"at": datetime.now(tz=UTC).isoformat(timespec="seconds"), "workloads": {}}
    with LocalPlatform(root, say=console.print, keep=keep) as platform:
        access = platform.access()
        tenant_configs = stage_config(platform)["tenants"]
        weights = {name: float(t["weight"]) for name, t in tenant_configs.items()}
        targets = tuple(TenantTarget(name, key) for name, key in sorted(access.api_keys.items()))
        console.print("warming up the functions ...")
        warm_up(platform, senders=8)
        for name, plan in plans(targets, steady_rate, steady_seconds).items():
            if name not in chosen:
                continue
            console.print(f"{name}: through the platform ...")
            platform_row, timings = run_platform(platform, plan, weights, console)
            rows: dict[str, Any] = {"platform": platform_row}
            if not skip_direct:
                console.print(f"{name}: direct callers ...")
                rows["direct"] = run_direct(platform, plan, weights, console)
            quota = int(emulator_admin(platform.endpoint, "state")["quota"]["DML"])
            total = platform_row["hops"].get("total", {})
            if total.get("p50") is not None:
                prediction = predict(plan, tenant_configs, quota, float(total["p50"]), timings)
                rows["simulator"] = {"prediction": prediction}
            if "direct" in rows and rows["direct"].get("makespan_s") and platform_row.get("makespan_s"):
                platform_row["makespan_over_direct"] = round(
                    platform_row["makespan_s"] / rows["direct"]["makespan_s"], 3
                )
            results["workloads"][name] = rows
            console.print(workload_table(name, {k: v for k, v in rows.items() if k != "simulator"}))
            console.print(share_table(name, {k: v for k, v in rows.items() if k != "simulator"}))
            console.print(hop_table(name, platform_row["hops"]))
            rounds = platform_row.get("rounds", {})
            console.print(f"{name}: dispatcher rounds {json.dumps(rounds)}")
            if "makespan_over_direct" in platform_row:
                console.print(f"{name}: makespan platform ÷ direct = {platform_row['makespan_over_direct']}")
            if "simulator" in rows:
                prediction = rows["simulator"]["prediction"]
                console.print(
                    f"{name}: simulator prediction (refill delay {total['p50']} s): makespan "
                    f"{_fmt(prediction['makespan_s'])} s, utilization {_fmt(prediction['utilization'])}; "
                    f"measured "
                    f"{platform_row['makespan_s']} s, {platform_row['mean_active_over_quota']}"
                )
    out = json_path or root / ".build" / "e2e-bench" / f"{results['at'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    console.print(f"figures written to {out}")
