"""One dispatch round: snapshot the ledger, plan with the pure scheduler, claim, start.

I-2 holds because each claim is one conditional transaction against the persisted effective limit;
I-3 because the query id is the ClientRequestToken; I-7 because a quota throttle puts the query back
at its head uncounted and lowers the limit; I-8 because only transient errors are retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from fairshare.domain import (
    EffectiveLimit,
    PoolState,
    QueuedQuery,
    Snapshot,
    TenantQueue,
    TenantState,
    TokenBucket,
    plan_admissions,
)
from fairshare.domain.errors import DependencyUnavailable
from fairshare.domain.model import POOLS, Admission, PoolName
from fairshare.ports import (
    Finalization,
    Permanent,
    PoolRecord,
    QueryRecord,
    QuotaThrottle,
    RateThrottle,
    TenantRecord,
    Transient,
)
from fairshare.services.completion import announce
from fairshare.services.deps import Deps

logger = Logger(child=True)

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
FAIL_WRITE_TRIES = 4


@dataclass(slots=True)
class RoundReport:
    planned: int = 0
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    throttled_pools: set[str] = field(default_factory=set)


class Dispatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._limits: dict[str, EffectiveLimit] = {}
        self._active: dict[str, int] = {}

    # --- the round ----------------------------------------------------------------------------------
    def run_round(self) -> RoundReport:
        deps, config = self.deps, self.deps.config
        now = deps.clock.now()
        report = RoundReport()
        self._refresh_pools(now)
        free_total = sum(max(0, self._limits[p].slots - self._active[p]) for p in POOLS)
        states = deps.ledger.tenants(list(config.tenants))
        self._emit_tenant_gauges(states)
        if free_total <= 0:
            return report

        today = deps.today()
        records: dict[str, QueryRecord] = {}
        tenants: list[TenantState] = []
        oldest: float | None = None
        for name, state in states.items():
            policy = config.policies[name]
            bytes_today = state.bytes_on(today)
            if (
                state.queued <= 0
                or state.running >= policy.max_concurrency
                or policy.over_budget(bytes_today)
            ):
                continue
            want = min(policy.max_concurrency - state.running, free_total)
            heads = self._heads(name, want)
            if not heads:
                continue
            queue = TenantQueue(
                QueuedQuery(r.query_id, name, r.priority, r.seq, r.submitted_at / 1000, r.statement_class)  # type: ignore[arg-type]
                for r in heads
            )
            records.update((r.query_id, r) for r in heads)
            oldest = min(oldest or now, min(r.submitted_at for r in heads) / 1000)
            tenants.append(TenantState(policy, max(0, state.running), queue, bytes_today))
        deps.metrics.emit("OldestQueuedAgeSeconds", round(max(0.0, now - (oldest or now)), 3), "Seconds")
        if not tenants:
            return report

        bucket, seen = self._bucket(now)
        snapshot = Snapshot(
            now=now,
            pools={p: PoolState(p, self._active[p], self._limits[p].slots) for p in POOLS},
            tenants=tenants,
            start_tokens=bucket.available(now),
        )
        plan = self._reserve_tokens(plan_admissions(snapshot), bucket, seen, now)
        report.planned = len(plan)
        for admission in plan:
            if admission.pool in report.throttled_pools:
                continue  # I-7: the pool is full this round; the query stays at its head
            self._admit(admission, records[admission.query.query_id], report)
        return report

    def _heads(self, tenant: str, want: int) -> list[QueryRecord]:
        policy = self.deps.config.policies[tenant]
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
    def _refresh_pools(self, now: float) -> None:
        deps = self.deps
        pools = deps.ledger.pools(list(POOLS))
        for name in POOLS:
            policy = deps.config.pools[name].limit_policy()
            pool = pools[name]
            if pool.limit_value is None or pool.limit_changed_at is None:
                deps.ledger.ensure_pool(name, float(policy.ceiling), now)
                pool = deps.ledger.pools([name])[name]
            limit = self._limit_of(pool, policy.ceiling, now)
            recovered = limit.recover(policy, now)
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

    def _bucket(self, now: float) -> tuple[TokenBucket, tuple[float, float] | None]:
        config = self.deps.config
        seen = self.deps.ledger.read_bucket()
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
            bucket, seen = self._bucket(now)
        return []

    # --- one admission ---------------------------------------------------------------------------
    def _admit(self, admission: Admission, record: QueryRecord, report: RoundReport) -> None:
        deps = self.deps
        policy = deps.config.policies[record.tenant]
        now_ms = deps.now_ms()
        if not deps.ledger.claim(record, admission.pool, policy.max_concurrency, now_ms):
            report.skipped.append(record.query_id)  # another round won it, or a limit is reached
            return
        self._active[admission.pool] += 1
        deps.metrics.emit(
            "AdmissionWaitMs", max(0, now_ms - record.submitted_at), "Milliseconds", tenant=record.tenant
        )
        self.start(record, admission.pool, report)

    def start(self, record: QueryRecord, pool: PoolName, report: RoundReport) -> None:
        """Start an ADMITTED query (also reconcile's restart of a stale claim)."""
        deps = self.deps
        log = {"query_id": record.query_id, "tenant": record.tenant}
        while True:
            try:
                execution_id = deps.athena.start(
                    record.query_id, record.sql, record.workgroup, record.database
                )
            except QuotaThrottle:
                self._on_quota_throttle(record, pool, report)
                return
            except Permanent as exc:
                logger.warning("start refused; not retried", extra={**log, "error": exc.code})
                self._fail(record, exc.code, exc.message, "permanent", report)
                return
            except (RateThrottle, Transient) as exc:
                attempts = deps.ledger.add_attempt(record.query_id)
                if attempts >= deps.config.max_transient_attempts:
                    logger.error("start kept failing; dead-lettered", extra={**log, "attempts": attempts})
                    self._fail(record, exc.code, exc.message, "transient", report)
                    deps.wakeups.dead_letter("submit", record.query_id)
                    report.dead_lettered.append(record.query_id)
                    return
                # full jitter, so concurrent rounds do not retry in step
                delay = deps.rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempts))
                deps.clock.sleep(delay)
                continue
            break
        deps.metrics.emit("StartQueryCount", 1, tenant=record.tenant)
        if deps.ledger.mark_running(record.query_id, execution_id, deps.now_ms()):
            report.started.append(record.query_id)
            logger.info("query started", extra={**log, "athena_execution_id": execution_id})
            return
        current = deps.ledger.get(record.query_id)
        if current is not None and current.status == "CANCELLED":
            # cancelled between claim and start: the cancel released the slot; stop what we started
            try:
                deps.athena.stop(execution_id)
            except Exception:
                logger.warning("stop after cancel failed", extra={**log, "athena_execution_id": execution_id})

    def _on_quota_throttle(self, record: QueryRecord, pool: PoolName, report: RoundReport) -> None:
        deps = self.deps
        now = deps.clock.now()
        if pool not in self._limits:  # reconcile's restart of a stale claim runs without a round
            self._refresh_pools(now)
        active_when_full = max(0, self._active[pool] - 1)
        deps.ledger.requeue(record, pool)
        self._active[pool] = active_when_full
        policy = deps.config.pools[pool].limit_policy()
        lowered = self._limits[pool].on_throttle(policy, now, active=max(policy.floor, active_when_full))
        deps.ledger.save_limit(pool, lowered.value, lowered.last_change_at, now, expected_changed_at=None)
        self._limits[pool] = lowered
        report.requeued.append(record.query_id)
        report.throttled_pools.add(pool)
        deps.metrics.emit("ThrottlingErrorCount", 1, tenant=record.tenant)
        deps.metrics.emit("EffectiveLimit", lowered.slots, pool=pool)
        logger.warning(
            "quota throttle: requeued at the head, limit lowered",
            extra={"query_id": record.query_id, "pool": pool, "effective_limit": lowered.value},
        )

    def _fail(self, record: QueryRecord, code: str, message: str, kind: str, report: RoundReport) -> None:
        deps = self.deps
        outcome = Finalization(
            status="FAILED",
            finished_at=deps.now_ms(),
            error_code=code,
            error_message=message[:1000],
            error_kind=kind,
            day=deps.today(),
        )
        # I-8: Athena's refusal is durable only once this write lands; if it were lost, the stale claim
        # would be started again by reconcile. A throttled or conflicting ledger is tried again first.
        for attempt in range(FAIL_WRITE_TRIES):
            try:
                released = deps.ledger.finalize(record, outcome)
                break
            except DependencyUnavailable:
                if attempt == FAIL_WRITE_TRIES - 1:
                    raise
                deps.clock.sleep(deps.rng.uniform(0, BACKOFF_BASE_S * 2**attempt))
        if released:
            report.failed.append(record.query_id)
            announce(deps, record, outcome)
