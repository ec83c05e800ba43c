"""The control-loop benchmark's arithmetic (`fairshare_tools.tooling.loopbench`), on hand-made runs."""

from __future__ import annotations

from typing import Any

import pytest
from fairshare_tools.tooling.loadgen import PlannedQuery, TenantTarget
from fairshare_tools.tooling.loopbench import (
    Admission,
    Backlog,
    DirectCaller,
    Release,
    Sample,
    Timing,
    hop_breakdown,
    loop_figures,
    refills,
    share_window,
    shares,
)


def t(
    tenant: str, submitted: float, started: float | None, completed: float | None, run_s: float = 1.0
) -> Timing:
    return Timing(tenant, submitted, started, completed, run_s)


def test_waiting_counts_submitted_but_not_yet_started_queries() -> None:
    backlog = Backlog([t("a", 0, 1, 2), t("a", 0, 3, 4), t("b", 2, None, None)])
    assert backlog.waiting(-1) == 0
    assert backlog.waiting(0) == 2
    assert backlog.waiting(1) == 1  # the first started at 1
    assert backlog.waiting(2.5) == 2  # b arrived at 2, the second waits until 3
    assert backlog.waiting(3) == 1  # b never started


def test_a_refill_pairs_each_completion_that_left_work_waiting_with_the_next_start() -> None:
    timings = [
        t("a", 0, 0, 2.0),
        t("a", 0, 2.5, 4.0),  # waited for the first's slot: refill 0.5 s
        t("a", 0, 4.25, 5.0),  # refill 0.25 s
    ]
    assert refills(timings, Backlog(timings)) == [0.5, 0.25]


def test_completions_with_nothing_waiting_are_not_refills() -> None:
    # the second query arrives long after the first finished: its start is arrival-driven
    timings = [t("a", 0, 0, 1), t("a", 10, 10.1, 11)]
    assert refills(timings, Backlog(timings)) == []


def test_shares_are_slot_seconds_inside_the_window_where_every_tenant_waits() -> None:
    timings = [
        t("a", 0, 0, 4),
        t("a", 0, 0, 4),
        t("a", 0, 4, 8),  # a waits until 4
        t("b", 0, 0, 4),
        t("b", 0, 6, 8),  # b waits until 6
    ]
    window = share_window(timings)
    assert window == (0, 4)  # a's last waiting query starts at 4
    measured = shares(timings, window)
    assert measured == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_the_figures_of_a_small_run() -> None:
    timings = [t("a", 0, 0, 2, run_s=2), t("a", 0, 0, 2, run_s=2), t("a", 0, 2.5, 4.5, run_s=2)]
    samples = [Sample(0.5, 2), Sample(1.0, 2), Sample(2.25, 0), Sample(3.0, 1)]
    figures = loop_figures(timings, samples, quota=1, weights={"a": 1.0}, throttles=3)
    assert figures["makespan_s"] == 4.5
    assert figures["ideal_s"] == 6.0  # 3 x 2 s on a quota of 1
    # waiting >= quota (1) from 0 to 2.5: the samples at 0.5, 1.0 and 2.25
    assert figures["backlogged_samples"] == 3
    assert figures["mean_active_over_quota"] == pytest.approx(4 / 3, abs=1e-3)
    assert figures["refill_s"]["count"] == 1
    assert figures["refill_s"]["p50"] == 0.5
    assert figures["throttles"] == 3
    assert figures["tenants"]["a"]["e2e_p95_s"] == 4.5


def test_the_hop_breakdown_follows_one_release_into_the_next_claim() -> None:
    timings = [t("a", 0, 0, 10), t("a", 0, 10.5, 12)]
    release = Release(completed=10.0, published=10.1, queued=10.15, handled=10.3, released=10.35)
    hops = hop_breakdown([release], [Admission(0.0, 0.01), Admission(10.4, 10.5)], Backlog(timings))
    assert hops["athena_to_bus"]["p50"] == pytest.approx(0.1)
    assert hops["bus_to_queue"]["p50"] == pytest.approx(0.05)
    assert hops["queue_to_handler"]["p50"] == pytest.approx(0.15)
    assert hops["handler_to_release"]["p50"] == pytest.approx(0.05)
    assert hops["release_to_decision"]["p50"] == pytest.approx(0.05)
    assert hops["decision_to_start"]["p50"] == pytest.approx(0.1)
    assert hops["total"]["p50"] == pytest.approx(0.5)


class _TooMany(Exception):
    pass


class _FakeAthena:
    """Refuses the first `refusals` starts, then runs every query to SUCCEEDED after one poll."""

    class exceptions:
        TooManyRequestsException = _TooMany

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.started: list[dict[str, Any]] = []
        self.polls = 0

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        if self.refusals > 0:
            self.refusals -= 1
            raise _TooMany()
        self.started.append(kwargs)
        return {"QueryExecutionId": f"e{len(self.started)}"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.polls += 1
        state = "RUNNING" if self.polls % 2 else "SUCCEEDED"
        return {"QueryExecution": {"Status": {"State": state}}}


def test_a_direct_caller_starts_again_after_a_refusal_and_polls_until_terminal() -> None:
    athena = _FakeAthena(refusals=2)
    caller = DirectCaller(athena, {"a": "wg-a"}, "default", "SELECT {n}", poll_s=0.0, retry_pause_s=0.0)
    planned = [PlannedQuery(n=7, at_s=0.0, tenant=TenantTarget("a", "k"), duration_s=1.0, priority=1)]
    [(query, _, execution_id)] = caller.run(planned, timeout_s=5)
    assert query.n == 7 and execution_id == "e1"
    assert caller.throttled == 2
    assert athena.started == [
        {"QueryString": "SELECT 7", "WorkGroup": "wg-a", "QueryExecutionContext": {"Database": "default"}}
    ]
    assert athena.polls == 2
