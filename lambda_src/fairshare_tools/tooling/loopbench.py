"""The control loop's figures, measured on the local platform (`make e2e-bench`).

Each figure is computed from timestamps the components record: the tenant's submit (client side), the
emulated Athena's SubmissionDateTime and CompletionDateTime, the ledger's admitted/started/finished
times, the emulator's event publish times and the completion handler's log lines. This module holds
the arithmetic (pure, unit-tested) and the direct-caller baseline; `scripts/e2e_bench.py` drives it.

Definitions:
- `waiting(t)`: queries submitted at or before t whose Athena start (SubmissionDateTime) is after t.
- `backlogged`: the samples with `waiting(t) >= quota`; mean and max active / quota are over those.
- `makespan`: the first submit to the last Athena completion; `ideal` = Σ run times ÷ quota.
- `refill`: each Athena completion while something waits, paired with the earliest later start not
  yet paired (completion → next StartQueryExecution accepted by Athena).
- `shares`: slot-seconds (Athena start → completion) of each tenant inside the window where every
  tenant of the workload has a query waiting, over the window's total; against `weight / Σ weights`.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fairshare_tools.tooling.loadgen import PlannedQuery, percentile


@dataclass(frozen=True, slots=True)
class Timing:
    """One query of a run, in wall-clock seconds."""

    tenant: str
    submitted: float
    started: float | None  # Athena accepted the start (counts against the quota from here)
    completed: float | None
    run_s: float  # the emulated engine time asked for
    submit_latency_s: float | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    active: int


def _sorted(values: Sequence[float | None]) -> list[float]:
    return sorted(v for v in values if v is not None)


class Backlog:
    """`waiting(t)` over a run, answered in O(log n)."""

    def __init__(self, timings: Sequence[Timing]) -> None:
        self._submits = _sorted([t.submitted for t in timings])
        self._starts = _sorted([t.started for t in timings])
        self._never = sum(1 for t in timings if t.started is None)

    def waiting(self, at: float) -> int:
        submitted = bisect.bisect_right(self._submits, at)
        started = bisect.bisect_right(self._starts, at)
        return max(0, submitted - started)


def refills(timings: Sequence[Timing], backlog: Backlog) -> list[float]:
    """Seconds from each completion that left work waiting to the start that took its slot."""
    starts = _sorted([t.started for t in timings])
    completions = [c for c in _sorted([t.completed for t in timings]) if backlog.waiting(c) > 0]
    latencies: list[float] = []
    index = 0
    for completed in completions:
        index = max(index, bisect.bisect_left(starts, completed))
        if index >= len(starts):
            break
        latencies.append(starts[index] - completed)
        index += 1
    return latencies


def share_window(timings: Sequence[Timing]) -> tuple[float, float] | None:
    """The longest stretch in which every tenant of the run has a query waiting."""
    by_tenant: dict[str, list[Timing]] = {}
    for timing in timings:
        by_tenant.setdefault(timing.tenant, []).append(timing)
    if len(by_tenant) < 2:
        return None
    backlogs = {name: Backlog(mine) for name, mine in by_tenant.items()}
    events = sorted({t.submitted for t in timings} | {t.started for t in timings if t.started is not None})
    best: tuple[float, float] | None = None
    begin: float | None = None
    for at in events:
        everyone = all(b.waiting(at) > 0 for b in backlogs.values())
        if begin is None and everyone:
            begin = at
        elif begin is not None and not everyone:
            if at > begin and (best is None or at - begin > best[1] - best[0]):
                best = (begin, at)
            begin = None
    return best


def shares(timings: Sequence[Timing], window: tuple[float, float]) -> dict[str, float]:
    begin, end = window
    seconds: dict[str, float] = {t.tenant: 0.0 for t in timings}
    for timing in timings:
        if timing.started is None:
            continue
        stop = timing.completed if timing.completed is not None else end
        seconds[timing.tenant] += max(0.0, min(stop, end) - max(timing.started, begin))
    total = sum(seconds.values())
    return {name: (value / total if total else 0.0) for name, value in sorted(seconds.items())}


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def loop_figures(
    timings: Sequence[Timing],
    samples: Sequence[Sample],
    quota: int,
    weights: Mapping[str, float],
    throttles: int,
) -> dict[str, Any]:
    """Every figure of one run of one workload (see the module docstring)."""
    backlog = Backlog(timings)
    completions = _sorted([t.completed for t in timings])
    first_submit = min(t.submitted for t in timings)
    makespan = (completions[-1] - first_submit) if completions else None
    ideal = sum(t.run_s for t in timings) / quota
    saturated = [s.active for s in samples if backlog.waiting(s.at) >= quota]
    refill = refills(timings, backlog)
    submit = [t.submit_latency_s * 1000 for t in timings if t.submit_latency_s is not None]
    window = share_window(timings)
    measured = shares(timings, window) if window else {}
    total_weight = sum(weights.get(name, 0.0) for name in measured) or 1.0
    per_tenant: dict[str, dict[str, Any]] = {}
    for name in sorted({t.tenant for t in timings}):
        e2e = [t.completed - t.submitted for t in timings if t.tenant == name and t.completed is not None]
        target = weights.get(name, 0.0) / total_weight if measured else None
        share = measured.get(name)
        per_tenant[name] = {
            "weight": weights.get(name),
            "target_share": _r(target),
            "share": _r(share),
            "share_error": _r((share - target) / target) if share is not None and target else None,
            "e2e_p50_s": _r(percentile(e2e, 50), 2),
            "e2e_p95_s": _r(percentile(e2e, 95), 2),
        }
    return {
        "queries": len(timings),
        "completed": len(completions),
        "makespan_s": _r(makespan, 2),
        "ideal_s": _r(ideal, 2),
        "makespan_over_ideal": _r(makespan / ideal if makespan and ideal else None),
        "backlogged_samples": len(saturated),
        "mean_active_over_quota": _r(sum(saturated) / len(saturated) / quota if saturated else None),
        "max_active_over_quota": _r(max(saturated) / quota if saturated else None),
        "max_active": max((s.active for s in samples), default=0),
        "refill_s": {
            "count": len(refill),
            "p50": _r(percentile(refill, 50)),
            "p95": _r(percentile(refill, 95)),
            "p99": _r(percentile(refill, 99)),
        },
        "submit_ms": {"p50": _r(percentile(submit, 50), 1), "p95": _r(percentile(submit, 95), 1)},
        "throttles": throttles,
        "share_window_s": _r(window[1] - window[0], 2) if window else None,
        "tenants": per_tenant,
    }


# --- the hop-by-hop breakdown of the refill path ---------------------------------------------------
HOPS = (
    ("athena_to_bus", "Athena terminal → event on the bus"),
    ("bus_to_queue", "→ message in the events queue"),
    ("queue_to_handler", "→ completion handler start"),
    ("handler_to_release", "→ slot released in the ledger"),
    ("release_to_decision", "→ dispatcher decision (claim)"),
    ("decision_to_start", "→ StartQueryExecution returned"),
)


@dataclass(frozen=True, slots=True)
class Release:
    """One query's path from Athena's completion to its slot's release (None: not recorded)."""

    completed: float
    published: float | None
    queued: float | None  # SQS SentTimestamp of the state-change message
    handled: float | None  # the completion handler began the record
    released: float  # the ledger's finished_at


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: float  # the ledger's admitted_at (the claim)
    started: float  # the ledger's started_at (StartQueryExecution returned)


def hop_breakdown(
    releases: Sequence[Release], admissions: Sequence[Admission], backlog: Backlog
) -> dict[str, dict[str, float | int | None]]:
    """p50/p95 per hop; each release that left work waiting is paired with the next claim after it."""
    claims = sorted(admissions, key=lambda a: a.admitted)
    claim_times = [a.admitted for a in claims]
    hops: dict[str, list[float]] = {name: [] for name, _ in HOPS}
    total: list[float] = []
    index = 0
    for release in sorted(releases, key=lambda r: r.released):
        if backlog.waiting(release.completed) <= 0:
            continue
        index = max(index, bisect.bisect_left(claim_times, release.released))
        if index >= len(claims):
            break
        claim = claims[index]
        index += 1
        chain = [release.completed, release.published, release.queued, release.handled, release.released]
        for (name, _), before, after in zip(HOPS[:4], chain[:-1], chain[1:], strict=True):
            if before is not None and after is not None:
                hops[name].append(max(0.0, after - before))
        hops["release_to_decision"].append(claim.admitted - release.released)
        hops["decision_to_start"].append(max(0.0, claim.started - claim.admitted))
        total.append(claim.started - release.completed)
    result = {
        name: {"count": len(values), "p50": _r(percentile(values, 50)), "p95": _r(percentile(values, 95))}
        for name, values in hops.items()
    }
    result["total"] = {
        "count": len(total),
        "p50": _r(percentile(total, 50)),
        "p95": _r(percentile(total, 95)),
    }
    return result


# --- the baseline: every query its own caller, straight to Athena -----------------------------------
@dataclass
class DirectCaller:
    """What a team does without the platform: start (boto3's standard retries, 10 attempts), and after
    a TooManyRequests that outlived them, sleep 1 s and start again; then poll every 250 ms."""

    athena: Any  # one boto3 Athena client (thread-safe), standard retry mode, max_attempts 10
    workgroup_of: Mapping[str, str]
    database: str
    sql_template: str
    clock: Callable[[], float] = time.time
    poll_s: float = 0.25
    retry_pause_s: float = 1.0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_one(self, planned: PlannedQuery, deadline: float) -> tuple[float, str | None]:
        submitted = self.clock()
        sql = planned.sql(self.sql_template)
        execution_id: str | None = None
        too_many = self.athena.exceptions.TooManyRequestsException
        while execution_id is None and self.clock() < deadline:
            try:
                execution_id = self.athena.start_query_execution(
                    QueryString=sql,
                    WorkGroup=self.workgroup_of[planned.tenant.name],
                    QueryExecutionContext={"Database": self.database},
                )["QueryExecutionId"]
            except too_many:
                with self._lock:
                    self.throttled += 1
                time.sleep(self.retry_pause_s)
        while execution_id is not None and self.clock() < deadline:
            state = self.athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            if state["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(self.poll_s)
        return submitted, execution_id

    def run(
        self, planned: Sequence[PlannedQuery], timeout_s: float
    ) -> list[tuple[PlannedQuery, float, str | None]]:
        """Each query on its own thread at its planned offset; returns (query, submitted, execution id)."""
        started = self.clock()
        deadline = started + max((p.at_s for p in planned), default=0.0) + timeout_s
        results: list[tuple[PlannedQuery, float, str | None]] = []
        with ThreadPoolExecutor(max_workers=max(1, len(planned)), thread_name_prefix="direct") as pool:
            futures = []
            for query in sorted(planned, key=lambda p: p.at_s):
                delay = started + query.at_s - self.clock()
                if delay > 0:
                    time.sleep(delay)
                futures.append((query, pool.submit(self.run_one, query, deadline)))
            for query, future in futures:
                submitted, execution_id = future.result()
                results.append((query, submitted, execution_id))
        return results
