"""A query's lifecycle: every transition, with its side effects, in one place.

    submit ──► QUEUED ──claim──► ADMITTED ──start──► RUNNING ──finish──► SUCCEEDED | FAILED | CANCELLED
                 ▲  │              │  │  └─ quota throttle: requeue ─► QUEUED (at its head, uncharged)
                 │  └─cancel──► CANCELLED └─ refused or out of retries: fail ─► FAILED
                 └──────────── restart (a transient failure redriven from the DLQ) ◄── FAILED

Each transition is one conditional ledger write, so any number of callers (dispatch rounds, the
completion's refills, reconcile, the api's cancel, redrive) may race for it: only the caller whose
write lands runs its side effects. The counters move inside that write (a slot is released exactly
once, I-2); the rest follows here and nowhere else:
- a query that reaches a terminal state, by whichever path, emits `CompletedQueries` (and
  `CancelledQueries` when cancelled) and `BytesScanned`, notifies its tenant's topic, and wakes the
  dispatcher when it gave a slot back (unless the caller refills the slot itself);
- an admission emits `AdmissionWaitMs`; a start `StartQueryCount`; a quota throttle
  `ThrottlingErrorCount`; a submission `SubmittedQueries` and a wake-up.
Notifications and wake-ups are best effort: the ledger is the truth (I-1), and the tick repairs.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from aws_lambda_powertools import Logger

from fairshare.domain.errors import DependencyUnavailable
from fairshare.domain.model import PoolName
from fairshare.ports import (
    AthenaCallError,
    Execution,
    Finalization,
    Permanent,
    QueryRecord,
    QueryStatus,
    QuotaThrottle,
    RateThrottle,
    Transient,
)
from fairshare.services.deps import Deps

logger = Logger(child=True)

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
FAIL_WRITE_TRIES = 4
POSITION_CAP = 1000


class StartResult(enum.Enum):
    """What became of a start (`Lifecycle.start`)."""

    STARTED = "started"  # RUNNING in the ledger
    THROTTLED = "throttled"  # I-7: Athena's quota was full; back at its head, uncharged
    FAILED = "failed"  # Athena refused it for good (I-8), or another writer ended it first
    DEAD_LETTERED = "dead_lettered"  # FAILED after its transient retries, parked in the DLQ
    STOPPED = "stopped"  # cancelled between its claim and its start: what Athena started is stopped


class Lifecycle:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- QUEUED --------------------------------------------------------------------------------------
    def submit(self, record: QueryRecord, max_queued: int) -> int | None:
        """Queue a new query (one ledger transaction) and wake the dispatcher; returns its position.

        Raises the ledger's DuplicateQuery (a replayed client token) and QueueFull.
        """
        deps = self.deps
        deps.ledger.submit(record, max_queued)
        logger.info(
            "query queued", extra={"query_id": record.query_id, "tenant": record.tenant, "seq": record.seq}
        )
        deps.metrics.emit("SubmittedQueries", 1, tenant=record.tenant)
        # The wake-up and the queue position are an independent write and read: both at once.
        position, _ = deps.side_by_side(
            [lambda: self.position(record), lambda: self._wake("submit", record.query_id)]
        )
        return position

    def position(self, record: QueryRecord) -> int | None:
        """Queries ahead of a queued one in its tenant's order (capped), None once it left the queue."""
        if record.status != QueryStatus.QUEUED:
            return None
        try:
            return self.deps.ledger.position(record, POSITION_CAP)
        except DependencyUnavailable:
            return None

    def restart(self, record: QueryRecord) -> bool:
        """A query that failed for a transient reason goes back to its queue (redrive from the DLQ)."""
        return self.deps.ledger.restart_failed(record)

    # --- ADMITTED, RUNNING -----------------------------------------------------------------------
    def claim(
        self,
        record: QueryRecord,
        pool: PoolName,
        tenant_cap: int,
        lift_s: float = 0.0,
        lift_since_ms: int | None = None,
    ) -> QueryRecord | None:
        """Take a slot for a queued query (I-2: conditional on the pool's limit and the tenant's cap);
        the ADMITTED record, or None when another round won it or a limit is reached."""
        deps = self.deps
        now_ms = deps.now_ms()
        if not deps.ledger.claim(record, pool, tenant_cap, now_ms, lift_s, lift_since_ms):
            return None
        deps.metrics.emit(
            "AdmissionWaitMs", max(0, now_ms - record.submitted_at), "Milliseconds", tenant=record.tenant
        )
        return dataclasses.replace(record, status=QueryStatus.ADMITTED, admitted_at=now_ms)

    def start(self, record: QueryRecord, pool: PoolName) -> StartResult:
        """Start an ADMITTED query in Athena (I-3: the query id is the ClientRequestToken, so starting
        again after a crash finds the same execution) and record it RUNNING."""
        deps = self.deps
        log = {"query_id": record.query_id, "tenant": record.tenant}
        while True:
            try:
                execution_id = deps.athena.as_tenant(record.tenant).start(
                    record.query_id, record.sql, record.workgroup, record.database
                )
            except QuotaThrottle:
                self._requeue(record, pool)
                return StartResult.THROTTLED
            except Permanent as exc:
                logger.warning("start refused; not retried", extra={**log, "error": exc.code})
                self.fail(record, exc.code, exc.message, "permanent")
                return StartResult.FAILED
            except (RateThrottle, Transient) as exc:
                attempts = deps.ledger.add_attempt(record.query_id)
                if attempts >= deps.config.max_transient_attempts:
                    logger.error("start kept failing; dead-lettered", extra={**log, "attempts": attempts})
                    self.fail(record, exc.code, exc.message, "transient")
                    deps.wakeups.dead_letter("submit", record.query_id)
                    return StartResult.DEAD_LETTERED
                # full jitter, so concurrent rounds do not retry in step
                deps.clock.sleep(deps.rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempts)))
                continue
            break
        deps.metrics.emit("StartQueryCount", 1, tenant=record.tenant)
        if deps.ledger.mark_running(record.query_id, execution_id, deps.now_ms()):
            logger.info("query started", extra={**log, "athena_execution_id": execution_id})
            return StartResult.STARTED
        current = deps.ledger.get(record.query_id)
        if current is not None and current.status == QueryStatus.CANCELLED:
            # cancelled between claim and start: the cancel released the slot; stop what we started
            try:
                deps.athena.as_tenant(record.tenant).stop(execution_id)
            except Exception:
                logger.warning("stop after cancel failed", extra={**log, "athena_execution_id": execution_id})
            return StartResult.STOPPED
        return StartResult.FAILED

    def _requeue(self, record: QueryRecord, pool: PoolName) -> None:
        # I-7: the slot is given back uncharged and the query keeps its place at the head.
        self.deps.ledger.requeue(record, pool)
        self.deps.metrics.emit("ThrottlingErrorCount", 1, tenant=record.tenant)
        logger.warning(
            "quota throttle: requeued at the head", extra={"query_id": record.query_id, "pool": pool}
        )

    # --- terminal ----------------------------------------------------------------------------------
    def finish(self, record: QueryRecord, execution: Execution, refill: bool = False) -> bool:
        """Write the terminal state Athena reports; False when another writer finished it first.

        `refill=True` when the caller admits into the freed slot itself (no wake-up then).
        """
        deps = self.deps
        failed = execution.state == QueryStatus.FAILED
        outcome = Finalization(
            status=execution.state,
            finished_at=deps.now_ms(),
            bytes_scanned=execution.bytes_scanned,
            engine_ms=execution.engine_ms,
            athena_queue_ms=execution.athena_queue_ms,
            error_code=execution.error_code if failed else None,
            error_message=execution.error_message if execution.state != QueryStatus.SUCCEEDED else None,
            error_kind="athena" if failed else None,
            output_location=execution.output_location,
            day=deps.today(),
        )
        if not deps.ledger.finalize(record, outcome):
            logger.info("already final; nothing released", extra={"query_id": record.query_id})
            return False
        logger.info(
            "query finished",
            extra={
                "query_id": record.query_id,
                "tenant": record.tenant,
                "status": outcome.status,
                "athena_execution_id": execution.execution_id,
                "bytes_scanned": outcome.bytes_scanned,
            },
        )
        self._ended(record, outcome, wake=not refill)
        return True

    def fail(self, record: QueryRecord, code: str, message: str, kind: str) -> bool:
        """An admitted query that cannot start: FAILED, its slot released; False if already final."""
        deps = self.deps
        outcome = Finalization(
            status=QueryStatus.FAILED,
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
            self._ended(record, outcome, wake=True)
        return released

    def cancel(self, record: QueryRecord) -> str:
        """Cancel a queued or active query; returns the status it ends in (CANCELLED, or the terminal
        status another writer reached first). Stopping it in Athena may raise DependencyUnavailable."""
        deps = self.deps
        now_ms = deps.now_ms()
        if record.status == QueryStatus.QUEUED:
            if deps.ledger.cancel_queued(record, now_ms):
                self._ended(record, self._cancelled(now_ms), wake=False)  # it held no slot
                return QueryStatus.CANCELLED
            record = self._current(record)  # admitted meanwhile: cancel it as active
        if record.terminal:
            return record.status
        bytes_scanned = 0
        if record.athena_execution_id:
            try:
                athena = deps.athena.as_tenant(record.tenant)
                athena.stop(record.athena_execution_id)
                bytes_scanned = athena.get(record.athena_execution_id).bytes_scanned
            except Permanent:
                logger.info("stop refused; the query already ended", extra={"query_id": record.query_id})
            except AthenaCallError as exc:
                raise DependencyUnavailable(f"Athena StopQueryExecution failed: {exc.code}") from exc
        # Whoever moves the status first (this cancel, the completion event, reconcile) releases the
        # slot; the others' conditional writes fail and release nothing.
        outcome = self._cancelled(deps.now_ms(), bytes_scanned)
        if deps.ledger.finalize(record, outcome):
            self._ended(record, outcome, wake=True)
            return QueryStatus.CANCELLED
        return self._current(record).status

    def _cancelled(self, finished_at: int, bytes_scanned: int = 0) -> Finalization:
        return Finalization(
            status=QueryStatus.CANCELLED,
            finished_at=finished_at,
            bytes_scanned=bytes_scanned,
            error_kind="cancelled",
            day=self.deps.today(),
        )

    def _current(self, record: QueryRecord) -> QueryRecord:
        current = self.deps.ledger.get(record.query_id)
        if current is None:
            raise DependencyUnavailable(f"query {record.query_id} left the ledger")
        return current

    def _ended(self, record: QueryRecord, outcome: Finalization, wake: bool) -> None:
        """The side effects of reaching a terminal state: metrics, the tenant's notification, and a
        wake-up when a slot was given back and the caller does not refill it (each best effort)."""
        deps = self.deps
        tenant = record.tenant
        deps.metrics.emit("CompletedQueries", 1, tenant=tenant, status=outcome.status)
        if outcome.status == QueryStatus.CANCELLED:
            deps.metrics.emit("CancelledQueries", 1, tenant=tenant)
        deps.metrics.emit("BytesScanned", float(outcome.bytes_scanned), "Bytes", tenant=tenant)
        topic = deps.config.tenants[tenant].notify_topic_arn if tenant in deps.config.tenants else None
        if topic:
            message: dict[str, Any] = {
                "query_id": record.query_id,
                "tenant": tenant,
                "status": outcome.status,
                "bytes_scanned": outcome.bytes_scanned,
                "error": (
                    {"code": outcome.error_code, "message": outcome.error_message}
                    if outcome.error_code or outcome.error_message
                    else None
                ),
            }
            try:
                deps.notifier.notify(topic, f"athena-fairshare query {outcome.status}", message)
            except Exception:
                logger.exception("notification failed", extra={"query_id": record.query_id})
        if wake:
            self._wake("completion", record.query_id)

    def _wake(self, reason: str, query_id: str) -> None:
        try:
            self.deps.wakeups.wake(reason, query_id)
        except Exception:
            # I-1: the ledger holds the state; the dispatcher's one-minute tick admits without it.
            logger.warning(
                "wake-up not sent; the next tick admits", extra={"query_id": query_id, "reason": reason}
            )
