"""An Athena state-change event: the query it names finishes (`Lifecycle.finish`: the terminal state,
the slot released exactly once, the tenant notified); the completion handler refills the slot."""

from __future__ import annotations

import contextlib

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.exceptions import OrphanedChildLoggerError

from fairshare.ports import TERMINAL_STATUSES, AthenaCallError, Execution, Permanent
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import Lifecycle

logger = Logger(child=True)


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
    # (without a handler's logger above this one, as in the simulator, there is nothing to correlate)
    with contextlib.suppress(OrphanedChildLoggerError):
        logger.thread_safe_append_keys(
            query_id=record.query_id, tenant=record.tenant, athena_execution_id=execution_id
        )
    if record.terminal:
        return "duplicate"
    try:
        execution = deps.athena.as_tenant(record.tenant).get(execution_id)
    except Permanent:
        execution = Execution(execution_id=execution_id, state=state, workgroup=workgroup)
    except AthenaCallError:
        raise  # transient: the record fails and SQS delivers it again
    if not execution.terminal:
        return "not-terminal"
    return "finalized" if Lifecycle(deps).finish(record, execution, refill=True) else "duplicate"
