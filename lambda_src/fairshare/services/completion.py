"""Finishing a query: from an Athena state-change event (or reconcile's poll) to a terminal ledger
state, the slot released exactly once, the tenant notified and the dispatcher woken."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from fairshare.ports import (
    TERMINAL_STATUSES,
    AthenaCallError,
    Execution,
    Finalization,
    Permanent,
    QueryRecord,
)
from fairshare.services.deps import Deps

logger = Logger(child=True)


def announce(deps: Deps, record: QueryRecord, outcome: Finalization, wake: bool = True) -> None:
    """After a release: metrics, the tenant's notification and a wake-up (each best effort).

    `wake=False` when the caller refills the slot itself (the completion handler).
    """
    tenant = record.tenant
    deps.metrics.emit("CompletedQueries", 1, tenant=tenant, status=outcome.status)
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
    if not wake:
        return
    try:
        deps.wakeups.wake("completion", record.query_id)
    except Exception:
        logger.warning("wake-up not sent after completion", extra={"query_id": record.query_id})


def finalize_execution(deps: Deps, record: QueryRecord, execution: Execution, wake: bool = True) -> bool:
    """Write the terminal state Athena reports; False when another writer finalized it first."""
    outcome = Finalization(
        status=execution.state,
        finished_at=deps.now_ms(),
        bytes_scanned=execution.bytes_scanned,
        engine_ms=execution.engine_ms,
        athena_queue_ms=execution.athena_queue_ms,
        error_code=execution.error_code if execution.state == "FAILED" else None,
        error_message=execution.error_message if execution.state != "SUCCEEDED" else None,
        error_kind="athena" if execution.state == "FAILED" else None,
        output_location=execution.output_location,
        day=deps.today(),
    )
    released = deps.ledger.finalize(record, outcome)
    if released:
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
        announce(deps, record, outcome, wake=wake)
    else:
        logger.info("already final; nothing released", extra={"query_id": record.query_id})
    return released


def on_state_change(deps: Deps, execution_id: str, state: str, workgroup: str | None) -> str:
    """Handle one `Athena Query State Change` event; returns what was done (for logs and tests).

    A release sends no wake-up: the completion handler refills the slot itself, once per batch.
    """
    if state not in TERMINAL_STATUSES:
        return "not-terminal"
    record = deps.ledger.by_execution(execution_id)
    if record is None:
        ours = workgroup in {t.workgroup for t in deps.config.tenants.values()}
        if ours:
            # Started outside the platform, or before the dispatcher recorded the id: the tick's
            # reconcile polls every RUNNING query past `event_grace_s`, so nothing is lost (I-1).
            logger.warning("execution not in the ledger", extra={"athena_execution_id": execution_id})
        return "not-ours"
    # the completion handler runs a batch's records side by side: correlation keys are per thread
    logger.thread_safe_append_keys(
        query_id=record.query_id, tenant=record.tenant, athena_execution_id=execution_id
    )
    if record.terminal:
        return "duplicate"
    try:
        execution = deps.athena.get(execution_id)
    except Permanent:
        execution = Execution(execution_id=execution_id, state=state, workgroup=workgroup)
    except AthenaCallError:
        raise  # transient: the record fails and SQS delivers it again
    if not execution.terminal:
        return "not-terminal"
    return "finalized" if finalize_execution(deps, record, execution, wake=False) else "duplicate"
