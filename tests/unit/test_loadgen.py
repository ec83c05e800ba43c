"""The load generator: statistics, schedules, and a short run against the loopback fake API."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fairshare_tools.tooling.fakeapi import FakeTenantApi, serve
from fairshare_tools.tooling.loadgen import (
    LoadGenerator,
    LoadPlan,
    LoadReport,
    PlannedQuery,
    QueryRecord,
    Snapshot,
    TenantTarget,
    parse_mix,
    percentile,
    schedule,
)
from fairshare_tools.tooling.loadgen_cli import live_table, main, parse_tenants, snapshot_line
from rich.console import Console

ALPHA, BETA = TenantTarget("alpha", "key-a"), TenantTarget("beta", "key-b")


@pytest.mark.parametrize(("pct", "expected"), [(50, 5), (95, 10), (99, 10), (10, 1), (100, 10)])
def test_percentile_is_nearest_rank(pct: float, expected: float) -> None:
    assert percentile([7, 3, 1, 9, 2, 10, 4, 6, 8, 5], pct) == expected


def test_percentile_of_nothing_is_none_and_bad_percentiles_are_refused() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_mixes_parse_values_and_weights() -> None:
    assert parse_mix("0.5:3, 5:1,30") == ((0.5, 3.0), (5.0, 1.0), (30.0, 1.0))
    assert parse_mix("0:1,2:3", int) == ((0, 1.0), (2, 3.0))
    for bad in ("", "x:1", "1:0", "1:-2"):
        with pytest.raises(ValueError):
            parse_mix(bad)


def test_a_rate_schedule_is_poisson_at_about_the_rate_and_reproducible() -> None:
    plan = LoadPlan(tenants=(ALPHA, BETA), duration_s=200, rate_per_s=5, seed=7)
    first = schedule(plan)
    assert first == schedule(plan)
    assert 900 <= len(first) <= 1100  # 1000 expected
    assert all(a.at_s <= b.at_s for a, b in itertools.pairwise(first))
    assert all(0 <= q.at_s < 200 for q in first)
    share = Counter(q.tenant.name for q in first)
    assert abs(share["alpha"] - share["beta"]) < 150


def test_a_burst_interleaves_tenants_at_time_zero() -> None:
    plan = LoadPlan(tenants=(ALPHA, BETA), rate_per_s=None, burst=3)
    queries = schedule(plan)
    assert [q.tenant.name for q in queries] == ["alpha", "beta"] * 3
    assert {q.at_s for q in queries} == {0.0}


def test_the_mix_of_durations_and_priorities_follows_the_weights() -> None:
    plan = LoadPlan(
        tenants=(ALPHA,),
        rate_per_s=None,
        burst=4000,
        durations=((0.5, 3), (10, 1)),
        priorities=((0, 1), (2, 1)),
    )
    queries = schedule(plan)
    durations = Counter(q.duration_s for q in queries)
    assert 0.7 < durations[0.5] / len(queries) < 0.8
    assert 0.45 < Counter(q.priority for q in queries)[2] / len(queries) < 0.55
    first = queries[0]
    assert first.sql(plan.sql_template).endswith(
        f"/* fairshare:duration={first.duration_s:g} scanned={first.scanned_bytes} */"
    )


def test_a_plan_needs_exactly_one_of_rate_and_burst() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        LoadPlan(tenants=(ALPHA,), rate_per_s=1, burst=2)
    with pytest.raises(ValueError, match="at least one tenant"):
        LoadPlan(tenants=())


def record(tenant: TenantTarget, latency: float | None, code: str | None, status: str | None) -> QueryRecord:
    query = PlannedQuery(n=0, at_s=0, tenant=tenant, duration_s=1, priority=1)
    return QueryRecord(
        query,
        submit_started=0.0,
        submit_latency_s=latency,
        error_code=code,
        query_id=None if code else "q",
        final_status=status,
        finished_at=2.0 if status else None,
    )


def test_the_report_counts_errors_by_code_and_the_completion_rate() -> None:
    records = (
        record(ALPHA, 0.010, None, "SUCCEEDED"),
        record(ALPHA, 0.020, None, "SUCCEEDED"),
        record(ALPHA, 0.030, None, "FAILED"),
        record(BETA, 0.040, None, None),
        record(BETA, 0.050, "queue_full", None),
        record(BETA, None, "connection_error", None),
    )
    report = LoadReport(LoadPlan(tenants=(ALPHA, BETA)), records, wall_s=3, schedule_lag_max_s=0)
    summary = report.as_dict()
    assert summary["submit_latency_ms"] == {"p50": 30.0, "p95": 50.0, "p99": 50.0, "max": 50.0}
    assert summary["errors_by_code"] == {"connection_error": 1, "queue_full": 1}
    assert summary["final_statuses"] == {"FAILED": 1, "SUCCEEDED": 2, "UNFINISHED": 1}
    assert summary["completion_rate"] == 0.5
    assert (summary["accepted"], summary["submitted"], summary["planned"]) == (4, 5, 6)


def test_a_short_run_against_the_fake_api_completes_every_query() -> None:
    api = FakeTenantApi(api_keys={"key-a": "alpha", "key-b": "beta"}, queue_s=0.05)
    plan = LoadPlan(
        tenants=(ALPHA, BETA),
        rate_per_s=40,
        duration_s=0.5,
        durations=((0.05, 1),),
        poll_interval_s=0.05,
        seed=3,
    )
    snapshots: list[Snapshot] = []
    with serve(api) as url:
        report = LoadGenerator(url, plan, on_progress=snapshots.append, progress_interval_s=0.05).run()
    summary = report.as_dict()
    assert summary["planned"] == len(schedule(plan)) > 5
    assert summary["accepted"] == summary["planned"] == len(api.queries)
    assert summary["completion_rate"] == 1.0
    assert summary["submit_latency_ms"]["p50"] is not None
    assert snapshots[-1].by_status == {"SUCCEEDED": summary["planned"]}
    assert {q.tenant for q in api.queries.values()} == {"alpha", "beta"}
    sent = [q.sql for q in api.queries.values()]
    assert all("fairshare:duration=0.05" in sql for sql in sent)
    assert {q.scanned for q in api.queries.values()} == {10_485_760}


def test_rejections_are_counted_by_code_and_unfinished_queries_time_out() -> None:
    api = FakeTenantApi(api_keys={"key-a": "alpha"}, max_queued=2, queue_s=30)
    plan = LoadPlan(
        tenants=(ALPHA,), rate_per_s=None, burst=5, completion_timeout_s=0.2, poll_interval_s=0.05
    )
    with serve(api) as url:
        summary = LoadGenerator(url, plan).run().as_dict()
    assert summary["errors_by_code"] == {"queue_full": 3}
    assert summary["final_statuses"] == {"UNFINISHED": 2}
    assert summary["completion_rate"] == 0.0


def test_the_snapshot_line_is_readable() -> None:
    snapshot = Snapshot(2.0, 10, 6, 5, 1, 3, {"SUCCEEDED": 2}, 0.0)
    assert snapshot_line(snapshot) == "   2.0s  submitted 6/10  accepted 5  errors 1  active 3  (succeeded 2)"


def test_tenants_come_from_flags_and_a_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"alpha": "ka", "beta": "kb"}))
    tenants = parse_tenants(("beta=override", "gamma=kg"), keys)
    assert tenants == (
        TenantTarget("alpha", "ka"),
        TenantTarget("beta", "override"),
        TenantTarget("gamma", "kg"),
    )


def test_the_cli_reports_json_and_exits_0_when_all_succeed() -> None:
    args = ["--fake-api", "--tenant", "alpha=ka", "--burst", "3", "--mix", "0.05", "--poll-interval", "0.05"]
    args.append("--json")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["completion_rate"]) == (3, 1.0)


@pytest.mark.parametrize(
    "args",
    [
        ["--fake-api", "--burst", "2"],
        ["--fake-api", "--tenant", "a=k", "--rate", "1", "--burst", "2"],
        ["--fake-api", "--tenant", "nokey", "--burst", "1"],
        ["--fake-api", "--tenant", "a=k", "--burst", "1", "--mix", "x"],
        ["--tenant", "a=k", "--burst", "1"],
    ],
)
def test_the_cli_refuses_bad_plans_with_exit_2(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTCTL_ENDPOINT", raising=False)
    assert CliRunner().invoke(main, args).exit_code == 2


def test_snapshots_carry_per_tenant_progress_and_the_apis_usage() -> None:
    api = FakeTenantApi(api_keys={"key-a": "alpha", "key-b": "beta"}, queue_s=0.05)
    plan = LoadPlan(
        tenants=(ALPHA, BETA), rate_per_s=None, burst=3, durations=((0.05, 1),), poll_interval_s=0.05
    )
    snapshots: list[Snapshot] = []
    with serve(api) as url:
        LoadGenerator(
            url, plan, on_progress=snapshots.append, progress_interval_s=0.05, watch_usage_s=0.05
        ).run()
    last = snapshots[-1]
    assert {name: (p.planned, p.accepted, p.succeeded) for name, p in last.by_tenant.items()} == {
        "alpha": (3, 3, 3),
        "beta": (3, 3, 3),
    }
    assert set(last.usage) == {"alpha", "beta"} and last.usage["alpha"].tenant == "alpha"
    console = Console(width=200, record=True)
    console.print(live_table(last))
    text = console.export_text()
    assert "alpha" in text and "share" in text and "submitted 6/6" in text


def test_status_polls_run_in_parallel() -> None:
    api = FakeTenantApi(api_keys={"key-a": "alpha"}, queue_s=0.0)
    in_flight = [0, 0]  # now, max
    lock = threading.Lock()
    original = api.handle

    def slow_handle(*args: Any) -> Any:
        if args[0] == "GET":
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight[1], in_flight[0])
            time.sleep(0.05)
            with lock:
                in_flight[0] -= 1
        return original(*args)

    api.handle = slow_handle  # type: ignore[method-assign,assignment]
    plan = LoadPlan(
        tenants=(ALPHA,),
        rate_per_s=None,
        burst=8,
        durations=((0.3, 1),),
        poll_interval_s=0.01,
        poll_mode="get",
    )
    with serve(api) as url:
        summary = LoadGenerator(url, plan).run().as_dict()
    assert summary["completion_rate"] == 1.0
    assert in_flight[1] > 1


def test_list_polling_reads_pages_not_one_query_at_a_time() -> None:
    api = FakeTenantApi(api_keys={"key-a": "alpha", "key-b": "beta"}, queue_s=0.1)
    plan = LoadPlan(
        tenants=(ALPHA, BETA), rate_per_s=None, burst=40, durations=((0.2, 1),), poll_interval_s=0.05
    )
    with serve(api) as url:
        summary = LoadGenerator(url, plan).run().as_dict()
    assert summary["completion_rate"] == 1.0
    lists = sum(1 for method, path, _ in api.requests_seen if method == "GET" and path == "/queries")
    singles = sum(1 for method, path, _ in api.requests_seen if method == "GET" and path.count("/") == 2)
    assert lists > 0
    assert singles < 20  # GET mode needs about 280 here: one per active query and round
