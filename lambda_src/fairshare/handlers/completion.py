"""Completion: Athena state-change events from the athena-events queue, with partial batch failures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from fairshare import wiring
from fairshare.services.completion import on_state_change
from fairshare.services.dispatch import refill

logger = Logger()
tracer = Tracer()
# A batch whose every record failed is answered with every id as a failure, not an exception, so
# the ESM retries exactly those records (and the DLQ takes them after maxReceiveCount). The records
# of a batch are independent (each releases its own slot under its own condition), so they run side
# by side: a batch costs its slowest record, not the sum of them.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
REFILL_OUTCOMES = frozenset({"finalized", "duplicate"})


class AthenaStateChange(BaseModel):
    model_config = ConfigDict(extra="allow")

    currentState: str
    queryExecutionId: str
    workgroupName: str | None = None


class AthenaStateChangeEvent(EventBridgeModel):
    detail: AthenaStateChange


# Traced in the worker thread that runs it: X-Ray's context is per thread, so a subsegment opened by
# each of a batch's concurrent coroutines on the event loop's one thread would end its siblings' (the
# SDK then raises AlreadyEndedException and the processor reports a record that was handled as failed).
@tracer.capture_method
def handle_record(record: SQSRecord) -> str:
    handled_ms = int(time.time() * 1000)
    event = parse(event=record.json_body, model=AthenaStateChangeEvent)
    detail = event.detail
    try:
        outcome = on_state_change(
            wiring.deps(), detail.queryExecutionId, detail.currentState, detail.workgroupName
        )
        # sqs_sent_ms and handled_ms time the refill path's middle hops (make e2e-bench)
        logger.info(
            "state change",
            extra={
                "athena_execution_id": detail.queryExecutionId,
                "outcome": outcome,
                "sqs_sent_ms": int(record.attributes.sent_timestamp),
                "handled_ms": handled_ms,
            },
        )
        return outcome
    finally:
        # correlation keys belong to one record, not to the next one this thread handles
        logger.thread_safe_remove_keys(["query_id", "tenant", "athena_execution_id"])


async def record_handler(record: SQSRecord) -> str:
    return await asyncio.to_thread(handle_record, record)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with processor(records=event.get("Records") or [], handler=record_handler, lambda_context=context):
        entries = processor.async_process()
    response = processor.response()
    # A slot this batch released (or, after a redelivery, may have released) is refilled here, not
    # after a second trip through the submissions queue.
    if any(status == "success" and outcome in REFILL_OUTCOMES for status, outcome, _ in entries):
        report = refill(wiring.deps())
        if report is not None:
            logger.info(
                "refill round", extra={"started": len(report.started), "round_cost": report.round_cost}
            )
    return dict(response)
