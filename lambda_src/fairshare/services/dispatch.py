"""One dispatch round: snapshot the ledger, plan with the pure scheduler, claim, start.

The claim and the start are the query's lifecycle transitions (`fairshare.services.lifecycle`: I-2,
I-3, I-8); the round owns the pools' effective limits: I-7, a round that met a full quota lowers the
pool's limit once, after its starts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial

from aws_lambda_powertools import Logger

from fairshare.domain import (
    EffectiveLimit,
    PoolState,
    QueuedQuery,
    Room,
    Service,
    Snapshot,
    TenantQueue,
    TenantState,
    TokenBucket,
    Waiting,
    waiting,
)
from fairshare.domain.model import POOLS, Admission, PoolName
from fairshare.ports import PoolRecord, QueryRecord, TenantRecord
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import Lifecycle, StartResult

logger = Logger(child=True)


@dataclass(slots=True)
class RoundReport:
    planned: int = 0
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    throttled_pools: set[PoolName] = field(default_factory=set)
    # What the round cost: reading the snapshot (ledger reads) and admitting (claims and starts), in ms.
    round_cost: dict[str, float] = field(default_factory=dict)
    # Queued work the round could not start for want of start tokens (the bucket refills; wake again).
    held_by_rate: int = 0


class Dispatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._limits: dict[str, EffectiveLimit] = {}
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()  # _active and _limits, shared by a round's admissions
        self._lifecycle = Lifecycle(deps)

    # --- the round ----------------------------------------------------------------------------------
    def run_round(self) -> RoundReport:
        began = time.perf_counter()
        report = RoundReport()
        try:
            self._round(report, began)
        finally:
            report.round_cost["total_ms"] = round((time.perf_counter() - began) * 1000, 1)
        return report

    def _round(self, report: RoundReport, began: float) -> None:
        deps, config = self.deps, self.deps.config
        now = deps.clock.now()
        state = deps.ledger.round_state(list(POOLS), list(config.tenants))
        self._refresh_pools(now, state.pools)
        free_total = sum(max(0, self._limits[p].slots - self._active[p]) for p in POOLS)
        states = state.tenants
        self._emit_tenant_gauges(states)

        today = deps.today()
        # Every tenant with work queued shows the round its heads: one more than it could be admitted
        # (the planner admits no more than its cap and the free slots allow), or, when a cap, its
        # budget or full pools hold it, its head alone; so the round sees the next query that will
        # still wait, and says how long and why (`fairshare.domain.waiting`), admissions or none.
        wanted: dict[str, int] = {}
        for name, tenant_state in states.items():
            policy = config.policies[name]
            if tenant_state.queued <= 0:
                continue
            room = min(policy.max_concurrency - tenant_state.running, free_total)
            blocked = room <= 0 or policy.over_budget(tenant_state.bytes_on(today))
            wanted[name] = 0 if blocked else room + 1
        records: dict[str, QueryRecord] = {}
        queues = {name: TenantQueue() for name in states}
        for name, heads in self._heads_of(wanted).items():
            queues[name] = TenantQueue(
                QueuedQuery(r.query_id, name, r.priority, r.seq, r.submitted_at / 1000, r.statement_class)
                for r in heads
            )
            records.update((r.query_id, r) for r in heads)
        # Every tenant, with or without work queued: fair share compares the service of all of them.
        tenants = [
            TenantState(
                config.policies[name],
                max(0, record.running),
                queues[name],
                record.bytes_on(today),
                Service.of(record.service, max(0, record.running), now, config.decay),
            )
            for name, record in states.items()
        ]

        bucket, seen = self._bucket(now, state.bucket)
        snapshot = Snapshot(
            now=now,
            pools={
                p: PoolState(
                    p, self._active[p], self._limits[p].slots, config.pools[p].limit_policy().ceiling
                )
                for p in POOLS
            },
            tenants=tenants,
            start_tokens=bucket.available(now),
            share=config.share_policy,
        )
        planned = deps.planner(snapshot) if free_total > 0 and records else []
        plan = self._reserve_tokens(planned, bucket, seen, now) if planned else []
        report.planned = len(plan)
        report.held_by_rate = len(planned) - len(plan)
        if report.held_by_rate:
            snapshot = replace(snapshot, start_tokens=len(plan))  # the tokens this round got
        self._publish_waiting(waiting(snapshot, plan, {n: s.queued for n, s in states.items()}), states, now)
        if not plan:
            return
        report.round_cost["snapshot_ms"] = round((time.perf_counter() - began) * 1000, 1)
        admitting = time.perf_counter()
        try:
            self._admit_all([(a, records[a.query.query_id]) for a in plan], report)
        finally:
            for pool in sorted(report.throttled_pools):
                self._lower_limit(pool)
        report.round_cost["admit_ms"] = round((time.perf_counter() - admitting) * 1000, 1)
        report.round_cost["claims"] = len(plan)
        report.round_cost["started"] = len(report.started)

    def _publish_waiting(self, waits: list[Waiting], states: dict[str, TenantRecord], now: float) -> None:
        """Each waiting tenant's age and reason as a metric, and its reason in the ledger when it
        changed (for `GET /queries/{id}`; best effort: the next round writes it again)."""
        deps = self.deps
        by_tenant = {w.tenant: w for w in waits}
        for wait in waits:
            age = wait.age(now)
            if age is not None:
                deps.metrics.emit(
                    "OldestQueuedAgeSeconds", round(age, 3), "Seconds", tenant=wait.tenant, reason=wait.reason
                )
        for name, record in states.items():
            held = by_tenant.get(name)
            reason = None if held is None else held.reason
            if reason == record.waiting_reason:
                continue
            try:
                deps.ledger.save_waiting(name, reason, None if reason is None else now)
            except Exception:
                logger.warning("waiting reason not recorded", extra={"tenant": name}, exc_info=True)

    def _admit_all(self, plan: list[tuple[Admission, QueryRecord]], report: RoundReport) -> None:
        """The round's admissions, each tenant's in plan order and the tenants side by side.

        Each admission is its own conditional claim, so I-2 holds however they interleave, with each
        other and with other rounds. A tenant's own admissions go one after another (I-5): when
        Athena refuses one, the ones behind it in that tenant's order are not started past it.
        """
        chains: dict[str, list[tuple[Admission, QueryRecord]]] = {}
        for admission, record in plan:
            chains.setdefault(record.tenant, []).append((admission, record))
        self.deps.side_by_side([partial(self._admit_chain, chain, report) for chain in chains.values()])

    def _admit_chain(self, chain: list[tuple[Admission, QueryRecord]], report: RoundReport) -> None:
        for admission, record in chain:
            self._admit(admission, record, report)

    def _heads_of(self, wanted: dict[str, int]) -> dict[str, list[QueryRecord]]:
        """Each tenant's queued heads, read side by side (one query per tenant and priority level)."""
        heads = self.deps.side_by_side([partial(self._heads, name, want) for name, want in wanted.items()])
        return dict(zip(wanted, heads, strict=True))

    def _heads(self, tenant: str, want: int) -> list[QueryRecord]:
        """`want` heads in the tenant's order; with `want` 0, its head only (a held tenant's, for age)."""
        policy = self.deps.config.policies[tenant]
        if want <= 0:
            return self.deps.ledger.queued_heads(tenant, 1)
        if policy.aging_seconds is None:
            return self.deps.ledger.queued_heads(tenant, want)
        # With aging a lower level's head may overtake, so each level offers its own heads.
        heads: list[QueryRecord] = []
        for priority in range(policy.priority_levels):
            heads.extend(self.deps.ledger.queued_heads(tenant, want, priority))
        return heads

    def _emit_tenant_gauges(self, states: dict[str, TenantRecord]) -> None:
        deps = self.deps
        today = deps.today()
        for name, state in states.items():
            deps.metrics.emit("QueuedQueries", max(0, state.queued), tenant=name)
            deps.metrics.emit("RunningQueries", max(0, state.running), tenant=name)
            if state.queued > 0 and deps.config.policies[name].over_budget(state.bytes_on(today)):
                deps.metrics.emit("BudgetHeldQueries", state.queued, tenant=name)

    # --- pools and the start-rate bucket ---------------------------------------------------------
    def observe_usage(self) -> dict[str, int]:
        """The tick's read of Athena's usage samples: each pool's room, recorded for every round.

        Best effort: without a sample (none published yet, or CloudWatch unavailable) the limit
        recovers as classic AIMD. Returns the rooms recorded, by pool.
        """
        deps = self.deps
        now = deps.clock.now()
        try:
            samples = deps.usage.latest(list(POOLS), now)
        except Exception:
            logger.warning("usage samples unavailable: the limit recovers without them", exc_info=True)
            return {}
        if not samples:
            return {}
        pools = deps.ledger.pools(list(POOLS))
        recorded: dict[str, int] = {}
        for name in POOLS:
            sample = samples.get(name)
            if sample is None:
                continue
            config, pool = deps.config.pools[name], pools[name]
            ceiling = config.limit_policy().ceiling
            limit = self._limit_of(pool, ceiling, now)
            room = Room.of(config.quota, ceiling, sample.active, pool.active, limit.slots, sample.at)
            if deps.ledger.save_room(name, room.slots, room.at, room.binding):
                recorded[name] = room.slots
                deps.metrics.emit("ForeignActiveQueries", Room.foreign(sample.active, pool.active), pool=name)
        return recorded

    def _refresh_pools(self, now: float, pools: dict[str, PoolRecord] | None = None) -> None:
        deps = self.deps
        if pools is None:
            pools = deps.ledger.pools(list(POOLS))
        for name in POOLS:
            policy = deps.config.pools[name].limit_policy()
            pool = pools[name]
            if pool.limit_value is None or pool.limit_changed_at is None:
                deps.ledger.ensure_pool(name, float(policy.ceiling), now)
                pool = deps.ledger.pools([name])[name]
            limit = self._limit_of(pool, policy.ceiling, now)
            recovered = limit.recover(policy, now, pool.room)
            if recovered != limit:
                saved = deps.ledger.save_limit(
                    name,
                    recovered.value,
                    recovered.last_change_at,
                    None,
                    expected_changed_at=limit.last_change_at,
                )
                if saved:
                    limit = recovered
                else:
                    pool = deps.ledger.pools([name])[name]
                    limit = self._limit_of(pool, policy.ceiling, now)
            self._limits[name] = limit
            self._active[name] = max(0, pool.active)
            deps.metrics.emit("EffectiveLimit", limit.slots, pool=name)

    @staticmethod
    def _limit_of(pool: PoolRecord, ceiling: int, now: float) -> EffectiveLimit:
        value = float(pool.limit_value if pool.limit_value is not None else ceiling)
        changed_at = float(pool.limit_changed_at if pool.limit_changed_at is not None else now)
        return EffectiveLimit(value, changed_at, pool.last_throttle_at)

    def _bucket(
        self, now: float, seen: tuple[float, float] | None
    ) -> tuple[TokenBucket, tuple[float, float] | None]:
        config = self.deps.config
        if seen is None:
            return TokenBucket.full(config.start_rate_per_s, config.start_burst, now), None
        return TokenBucket(config.start_rate_per_s, config.start_burst, seen[0], seen[1]), seen

    def _reserve_tokens(
        self, plan: list[Admission], bucket: TokenBucket, seen: tuple[float, float] | None, now: float
    ) -> list[Admission]:
        """Take one start token per planned admission, optimistically; concurrent rounds share the rate."""
        for _ in range(5):
            count = min(len(plan), bucket.available(now))
            if count <= 0:
                return []
            taken = bucket.take(count, now)
            if self.deps.ledger.save_bucket(taken.tokens, taken.updated_at, seen):
                return plan[:count]
            bucket, seen = self._bucket(now, self.deps.ledger.read_bucket())
        return []

    # --- one admission ---------------------------------------------------------------------------
    def _admit(self, admission: Admission, record: QueryRecord, report: RoundReport) -> None:
        if admission.pool in report.throttled_pools:
            report.skipped.append(record.query_id)  # I-7: the pool is full this round; it stays at its head
            return
        lifecycle = self._lifecycle
        since_ms = None if admission.lift_since is None else int(admission.lift_since * 1000)
        cap = self.deps.config.policies[record.tenant].max_concurrency
        admitted = lifecycle.claim(record, admission.pool, cap, admission.lift_s, since_ms)
        if admitted is None:
            report.skipped.append(record.query_id)  # another round won it, or a limit is reached
            return
        with self._lock:
            self._active[admission.pool] += 1
        result = lifecycle.start(admitted, admission.pool)
        if result is StartResult.STARTED:
            report.started.append(record.query_id)
        elif result is StartResult.THROTTLED:
            report.requeued.append(record.query_id)
            with self._lock:
                self._active[admission.pool] = max(0, self._active[admission.pool] - 1)
                report.throttled_pools.add(admission.pool)  # the limit is lowered once, after the round
        elif result is StartResult.DEAD_LETTERED:
            report.failed.append(record.query_id)
            report.dead_lettered.append(record.query_id)
        elif result is StartResult.FAILED:
            report.failed.append(record.query_id)

    def throttled(self, pool: PoolName) -> None:
        """A start outside a round (reconcile's restart of a stale claim) met a full quota (I-7)."""
        if pool not in self._limits:
            self._refresh_pools(self.deps.clock.now())
        self._lower_limit(pool)

    def _lower_limit(self, pool: PoolName) -> None:
        """I-7: one multiplicative decrease per round that met a full quota, to what was active then.

        A round's starts run side by side and may all meet the same full quota: like AIMD's one cut
        per congestion signal, they lower the limit once, after the round, to the queries it has in
        Athena (those before the round and those it started).
        """
        deps = self.deps
        now = deps.clock.now()
        policy = deps.config.pools[pool].limit_policy()
        with self._lock:
            active_when_full = self._active[pool]
            lowered = self._limits[pool].on_throttle(policy, now, active=max(policy.floor, active_when_full))
            self._limits[pool] = lowered
        deps.ledger.save_limit(pool, lowered.value, lowered.last_change_at, now, expected_changed_at=None)
        deps.metrics.emit("EffectiveLimit", lowered.slots, pool=pool)
        logger.warning(
            "quota throttle: limit lowered", extra={"pool": pool, "effective_limit": lowered.value}
        )


def refill(deps: Deps) -> RoundReport | None:
    """The invocation that released a slot admits into it at once, with no trip through a queue.

    Any number of these run beside the dispatcher's own rounds; the conditional claim keeps I-2. The
    wake-up message stays as the fallback: sent when this round failed, or left queued work for want
    of start tokens.
    """
    try:
        report = Dispatcher(deps).run_round()
    except Exception:
        logger.exception("refill round failed; the dispatcher is woken instead")
        report = None
    if report is None or report.held_by_rate:
        try:
            deps.wakeups.wake("refill")
        except Exception:
            logger.warning("wake-up not sent after a refill; the next tick admits")
    return report
