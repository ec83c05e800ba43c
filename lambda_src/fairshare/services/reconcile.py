"""The tick's repair pass: restart stale claims, poll queries whose events were lost, fix counters.

Events are best effort and a Lambda can die on any line, so the ledger is the truth and this pass
brings everything else back to it (I-1, I-2, I-3).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from fairshare.domain.model import POOLS
from fairshare.ports import AthenaCallError, QueryRecord, QueryStatus
from fairshare.services.deps import Deps
from fairshare.services.dispatch import Dispatcher
from fairshare.services.lifecycle import Lifecycle, StartResult

logger = Logger(child=True)

STALE_ADMITTED_S = 30
BATCH_GET_MAX = 50


@dataclass(slots=True)
class ReconcileReport:
    restarted: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    drift: dict[str, int] = field(default_factory=dict)


def reconcile(deps: Deps, dispatcher: Dispatcher) -> ReconcileReport:
    report = ReconcileReport()
    now_ms = deps.now_ms()
    stale_before = now_ms - STALE_ADMITTED_S * 1000
    grace_before = now_ms - int(deps.config.event_grace_s * 1000)
    lifecycle = Lifecycle(deps)
    for pool in POOLS:
        active = deps.ledger.active(pool)
        for record in active:
            if record.status == QueryStatus.ADMITTED and (record.admitted_at or 0) <= stale_before:
                # I-3: a crash after the claim (maybe after the start): the same token finds the same
                # execution, so starting again never runs the query twice.
                logger.info("restarting a stale claim", extra={"query_id": record.query_id})
                result = lifecycle.start(record, pool)
                if result is StartResult.STARTED:
                    report.restarted.append(record.query_id)
                elif result is StartResult.THROTTLED:
                    dispatcher.throttled(pool)
        overdue = [
            r
            for r in active
            if r.status == QueryStatus.RUNNING
            and r.athena_execution_id
            and (r.started_at or 0) <= grace_before
        ]
        _poll(deps, lifecycle, overdue, report)
    _repair_counters(deps, report)
    return report


def _poll(deps: Deps, lifecycle: Lifecycle, overdue: list[QueryRecord], report: ReconcileReport) -> None:
    """BatchGetQueryExecution of the overdue queries, per tenant (each as its own role), 50 at a time."""
    by_tenant: dict[str, dict[str, QueryRecord]] = {}
    for r in overdue:
        if r.athena_execution_id:
            by_tenant.setdefault(r.tenant, {})[r.athena_execution_id] = r
    for tenant, by_execution in sorted(by_tenant.items()):
        ids = sorted(by_execution)
        athena = deps.athena.as_tenant(tenant)
        for start in range(0, len(ids), BATCH_GET_MAX):
            try:
                executions = athena.batch_get(ids[start : start + BATCH_GET_MAX])
            except AthenaCallError as exc:
                logger.warning(
                    "BatchGetQueryExecution failed; next tick retries",
                    extra={"error": exc.code, "tenant": tenant},
                )
                continue
            for execution in executions:
                record = by_execution.get(execution.execution_id)
                if record is not None and execution.terminal and lifecycle.finish(record, execution):
                    report.recovered.append(record.query_id)
                    deps.metrics.emit("RecoveredCompletions", 1, tenant=record.tenant)


def _repair_counters(deps: Deps, report: ReconcileReport) -> None:
    """Recompute the counters from the ledger's sparse indexes; repair drift with conditional writes.

    Counters are read before counting, and a repair only lands if the counter still holds what was
    read, so a claim or release racing with this pass is never overwritten.
    """
    names = list(deps.config.tenants)
    pools = deps.ledger.pools(list(POOLS))
    tenants = deps.ledger.tenants(names)
    running_by_tenant: Counter[str] = Counter()
    held_by_tenant: Counter[str] = Counter()  # fair share's sum of claim times (fairshare.domain.service)
    for pool in POOLS:
        active = deps.ledger.active(pool)
        running_by_tenant.update(r.tenant for r in active)
        for record in active:
            held_by_tenant[record.tenant] += record.admitted_at or 0
        _repair(deps, report, f"pool#{pool}", "active", pools[pool].active, len(active))
    for name in names:
        _repair(deps, report, f"tenant#{name}", "running", tenants[name].running, running_by_tenant[name])
        _repair(
            deps, report, f"tenant#{name}", "held_ms", tenants[name].service.held_ms, held_by_tenant[name]
        )
        _repair(
            deps, report, f"tenant#{name}", "queued", tenants[name].queued, deps.ledger.count_queued(name)
        )


def _repair(deps: Deps, report: ReconcileReport, key: str, attribute: str, counter: int, actual: int) -> None:
    if counter == actual:
        return
    drift = actual - counter
    logger.warning(
        "counter drift", extra={"key": key, "attribute": attribute, "counter": counter, "actual": actual}
    )
    deps.metrics.emit("CounterDrift", abs(drift), key=key.split("#", 1)[0], attribute=attribute)
    if deps.ledger.repair_counter(key, attribute, counter, actual):
        report.drift[f"{key}.{attribute}"] = drift
