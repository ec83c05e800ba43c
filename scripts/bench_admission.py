#!/usr/bin/env python3
"""Admission decisions per second of `fairshare.domain.plan_admissions` at 1,000 tenants x 100k queued.

The loop is the dispatcher's: a batch of running queries completes (freeing slots, and charging
their slot-seconds to their tenant's service history as the ledger's release does), one snapshot is
taken with each tenant's service (`Service.of`, as the dispatcher builds it), `plan_admissions`
admits what fits (under the default fair-share policy, or `--share weighted_fair`), the admitted
queries leave their queues and start (the ledger's claim), and new submissions keep every queue at
its size. Tenants have mixed weights, caps and priorities; some age.
Timing covers `plan_admissions` itself and, separately, the round including the snapshot build. The
rates are per second of this process's CPU time (other processes on the machine do not skew them);
the wall-clock rate is shown too.

    scripts/bench_admission.py [--tenants 1000] [--queued 100000] [--limit 200] [--batch 1-40] [--seconds 5]
                               [--share fair_share|weighted_fair]
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

import click
from fairshare.config import PoolConfig
from fairshare.domain import (
    Admission,
    PoolState,
    QueuedQuery,
    Snapshot,
    TenantPolicy,
    TenantQueue,
    TenantState,
    plan_admissions,
)
from fairshare.domain.model import SHARE_POLICIES, PoolName, SharePolicy
from fairshare.domain.service import Service, ServiceDecay, ServiceHistory
from fairshare.ports import Finalization, QueryRecord
from fairshare.services.deps import Deps
from fairshare.services.dispatch import Dispatcher
from fairshare_tools.simulation.metrics import percentile
from fairshare_tools.simulation.platform import config_for
from fairshare_tools.testing.fakes import (
    FakeClock,
    FakeResultStore,
    FixedUsage,
    RecordingNotifier,
    RecordingWakeups,
)
from fairshare_tools.testing.memory_ledger import MemoryLedger
from rich.console import Console
from rich.table import Table


class Workload:
    """Tenants, their queues and what runs, with submissions that keep each queue at its size."""

    def __init__(self, tenants: int, queued: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.policies = [
            TenantPolicy(
                name=f"t{index:04d}",
                weight=float(self.rng.choice((1, 1, 2, 3, 5))),
                max_concurrency=self.rng.choice((2, 5, 10, 20)),
                max_queued=queued,
                allow_ddl=True,
                priority_levels=3,
                aging_seconds=60.0 if index % 5 == 0 else None,
                max_aging_boost=1,
            )
            for index in range(tenants)
        ]
        self.queues = {policy.name: TenantQueue() for policy in self.policies}
        self.seq = dict.fromkeys(self.queues, 0)
        self.running = dict.fromkeys(self.queues, 0)
        self.active: dict[PoolName, int] = {"DML": 0, "DDL": 0}
        self.decay = ServiceDecay()
        self.history = {name: ServiceHistory() for name in self.queues}
        # what runs, with its claim time in ms (what the ledger's release charges)
        self.in_flight: deque[tuple[QueuedQuery, int]] = deque()
        self.now = 600.0
        for position in range(queued):
            policy = self.policies[position % tenants]
            # Submitted over the last 10 minutes, so the aging tenants' old queries are boosted.
            self.submit(policy.name, at=self.now - self.rng.uniform(0, 600))

    def submit(self, tenant: str, at: float) -> None:
        self.seq[tenant] += 1
        queue = self.queues[tenant]
        query = QueuedQuery(
            query_id=f"{tenant}-{self.seq[tenant]}",
            tenant=tenant,
            priority=self.rng.choices((0, 1, 2), (0.5, 0.3, 0.2))[0],
            seq=self.seq[tenant],
            submitted_at=at,
            pool="DDL" if self.rng.random() < 0.02 else "DML",
        )
        queue.push(query)

    def complete(self, count: int) -> None:
        for _ in range(min(count, len(self.in_flight))):
            # Completions come in no particular order: take one from a random position.
            self.in_flight.rotate(-self.rng.randrange(len(self.in_flight)))
            query, claimed_ms = self.in_flight.popleft()
            self.running[query.tenant] -= 1
            self.active[query.pool] -= 1
            history = self.history[query.tenant]
            self.history[query.tenant] = history.released(claimed_ms, round(self.now * 1000), self.decay)

    def snapshot(self, limits: dict[PoolName, int], share: SharePolicy) -> Snapshot:
        pools = {
            pool: PoolState(name=pool, active=self.active[pool], effective_limit=limits[pool])
            for pool in limits
        }
        free = sum(state.free for state in pools.values())
        now, decay = self.now, self.decay
        tenants = [
            TenantState(
                policy,
                self.running[policy.name],
                self.queues[policy.name],
                0,
                Service.of(self.history[policy.name], self.running[policy.name], now, decay),
            )
            for policy in self.policies
        ]
        return Snapshot(now=self.now, pools=pools, tenants=tenants, start_tokens=max(1, free), share=share)

    def start(self, admission: Admission) -> None:
        query, now_ms = admission.query, round(self.now * 1000)
        self.queues[query.tenant].remove(query)
        self.running[query.tenant] += 1
        self.active[query.pool] += 1
        self.history[query.tenant] = self.history[query.tenant].claimed(now_ms, admission.lift_s, self.decay)
        self.in_flight.append((query, now_ms))
        self.submit(query.tenant, at=self.now)


class _CountingMetrics:
    """Metrics kept as counts only: a round emits two gauges per tenant, which a bench need not keep."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        self.count += 1


class _InstantAthena:
    """StartQueryExecution that always succeeds at once (the bench measures the platform's side)."""

    def __init__(self) -> None:
        self.started = 0

    def as_tenant(self, tenant: str) -> _InstantAthena:
        return self

    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        self.started += 1
        return f"exec-{query_id}"

    def stop(self, execution_id: str) -> None: ...

    def get(self, execution_id: str) -> Any:
        raise NotImplementedError

    def batch_get(self, execution_ids: Any) -> list[Any]:
        return []

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> Any:
        raise NotImplementedError


class DispatcherWorkload:
    """The same tenants and queues as `Workload`, in the in-memory ledger, admitted by the
    dispatcher's own round (`services.dispatch.Dispatcher.run_round`): its ledger reads (round state,
    each eligible tenant's queued heads), plan, token bucket, claims, starts and RUNNING writes."""

    def __init__(self, source: Workload, limit: int, share: SharePolicy) -> None:
        self.rng = source.rng
        # the stage the simulator runs on, with a start rate that is not what this measures
        pools: dict[PoolName, PoolConfig] = {
            "DML": PoolConfig.model_validate({"quota": limit}),
            "DDL": PoolConfig.model_validate({"quota": 20}),
        }
        self.config = config_for(source.policies, pools, share, 1e9, 10**9, 3600.0)
        self.clock = FakeClock()
        self.ledger = MemoryLedger(self.config.query_ttl_days, self.config.decay)
        self.deps = Deps(
            config=self.config,
            ledger=self.ledger,
            athena=_InstantAthena(),
            clock=self.clock,
            metrics=_CountingMetrics(),
            notifier=RecordingNotifier(),
            wakeups=RecordingWakeups(),
            results=FakeResultStore(),
            usage=FixedUsage(),
            concurrency=1,
        )
        for pool, ceiling in (("DML", float(limit)), ("DDL", 20.0)):
            self.ledger.ensure_pool(pool, ceiling, self.clock.now())
        self.seq = 0
        for queue in source.queues.values():
            for query in queue.ordered(source.now):
                self.submit(query.tenant, query.priority, query.pool)
        self.running: list[str] = []

    def submit(self, tenant: str, priority: int, pool: PoolName) -> None:
        self.seq += 1
        now_ms = self.deps.now_ms()
        record = QueryRecord(
            query_id=f"q{self.seq:09d}",
            tenant=tenant,
            status="QUEUED",
            sql="SELECT 1",
            database="default",
            workgroup=f"wg-{tenant}",
            statement_class=pool,
            priority=priority,
            seq=self.seq,
            submitted_at=now_ms,
        )
        self.ledger.submit(record, 10**9)

    def complete(self, count: int) -> None:
        """Release `count` running queries (the completions' writes), and queue as many again."""
        for _ in range(min(count, len(self.running))):
            record = self.ledger.get(self.running.pop(self.rng.randrange(len(self.running))))
            assert record is not None
            outcome = Finalization(status="SUCCEEDED", finished_at=self.deps.now_ms(), day=self.deps.today())
            self.ledger.finalize(record, outcome)
            self.submit(record.tenant, record.priority, record.statement_class)

    def round(self) -> int:
        report = Dispatcher(self.deps).run_round()
        self.running.extend(report.started)
        return len(report.started)


def _dispatcher_rounds(
    workload: Workload, limit: int, share: SharePolicy, batch: tuple[int, int], seconds: float
) -> Table:
    built = time.perf_counter()
    rounds = DispatcherWorkload(workload, limit, share)
    build_s = time.perf_counter() - built
    latencies: list[float] = []
    decisions = calls = heads = 0
    busy_s = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        rounds.complete(rounds.rng.randint(*batch))
        rounds.clock.advance(0.5)
        calls_before = sum(rounds.ledger.calls.values())
        heads -= rounds.ledger.calls.get("queued_heads", 0)
        started = time.process_time()
        decisions += rounds.round()
        latencies.append(time.process_time() - started)
        busy_s += latencies[-1]
        calls += sum(rounds.ledger.calls.values()) - calls_before
        heads += rounds.ledger.calls.get("queued_heads", 0)
    count = len(latencies)
    return _table(
        f"dispatcher round, in-memory ledger ({share}), {len(workload.policies):,} tenants",
        [
            ("admission decisions per second (whole dispatcher round)", f"{decisions / busy_s:,.0f}"),
            ("rounds", f"{count:,}"),
            ("decisions per round (mean)", f"{decisions / count:.1f}"),
            ("round latency p50 (CPU)", f"{percentile(latencies, 50) * 1e3:.1f} ms"),
            ("round latency p99 (CPU)", f"{percentile(latencies, 99) * 1e3:.1f} ms"),
            ("ledger calls per round (mean)", f"{calls / count:,.0f}"),
            ("  of them queued-heads reads (tenants x levels)", f"{heads / count:,.0f}"),
            ("set-up (queueing in the ledger)", f"{build_s:.2f} s"),
        ],
    )


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for measure, value in rows:
        table.add_row(measure, value)
    return table


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tenants", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--queued", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--limit", default=200, show_default=True, type=click.IntRange(min=1), help="DML effective limit"
)
@click.option("--batch", default="1-40", show_default=True, help="completions per round, a range lo-hi")
@click.option("--seconds", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="time budget")
@click.option("--seed", default=7, show_default=True)
@click.option("--share", default="fair_share", show_default=True, type=click.Choice(SHARE_POLICIES))
@click.option(
    "--round-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="time budget of the dispatcher's whole round (0: skip it)",
)
def main(
    tenants: int,
    queued: int,
    limit: int,
    batch: str,
    seconds: float,
    seed: int,
    share: SharePolicy,
    round_seconds: float,
) -> None:
    """Measure admission decisions per second through plan_admissions, then through the dispatcher's round."""
    low, _, high = batch.partition("-")
    batch_low, batch_high = int(low), int(high or low)
    console = Console()
    built = time.perf_counter()
    workload = Workload(tenants, queued, seed)
    build_s = time.perf_counter() - built
    limits: dict[PoolName, int] = {"DML": limit, "DDL": 20}

    call_latencies: list[float] = []
    decisions = 0
    plan_s = 0.0
    plan_wall_s = 0.0
    round_s = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        workload.complete(workload.rng.randint(batch_low, batch_high))
        workload.now += 0.5
        round_started = time.process_time()
        snapshot = workload.snapshot(limits, share)
        plan_started, plan_wall_started = time.process_time(), time.perf_counter()
        admissions = plan_admissions(snapshot)
        plan_ended, plan_wall_ended = time.process_time(), time.perf_counter()
        for admission in admissions:
            workload.start(admission)
        round_s += time.process_time() - round_started
        plan_s += plan_ended - plan_started
        plan_wall_s += plan_wall_ended - plan_wall_started
        call_latencies.append(plan_ended - plan_started)
        decisions += len(admissions)

    calls = len(call_latencies)
    console.print(
        _table(
            f"plan_admissions ({share}), {tenants:,} tenants x {queued:,} queued",
            [
                ("admission decisions per second (plan_admissions)", f"{decisions / plan_s:,.0f}"),
                (
                    "decisions per second, core round (snapshot + plan + apply, no ledger)",
                    f"{decisions / round_s:,.0f}",
                ),
                ("decisions per second of wall time (plan_admissions)", f"{decisions / plan_wall_s:,.0f}"),
                ("calls", f"{calls:,}"),
                ("decisions", f"{decisions:,}"),
                ("decisions per call (mean)", f"{decisions / calls:.1f}"),
                ("per-call latency p50 (CPU)", f"{percentile(call_latencies, 50) * 1e3:.2f} ms"),
                ("per-call latency p99 (CPU)", f"{percentile(call_latencies, 99) * 1e3:.2f} ms"),
                ("queued at the end", f"{sum(len(queue) for queue in workload.queues.values()):,}"),
                ("set-up (building the queues)", f"{build_s:.2f} s"),
            ],
        )
    )
    if round_seconds > 0:
        console.print(
            _dispatcher_rounds(
                Workload(tenants, queued, seed), limit, share, (batch_low, batch_high), round_seconds
            )
        )


if __name__ == "__main__":
    main()
