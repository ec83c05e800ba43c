"""Completion: Athena state-change events from the athena-events queue, with partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from fairshare import wiring
from fairshare.services.completion import on_state_change

logger = Logger()
tracer = Tracer()
# A batch whose every record failed is answered with every id as a failure, not an exception, so
# the ESM retries exactly those records (and the DLQ takes them after maxReceiveCount).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class AthenaStateChange(BaseModel):
    model_config = ConfigDict(extra="allow")

    currentState: str
    queryExecutionId: str
    workgroupName: str | None = None


class AthenaStateChangeEvent(EventBridgeModel):
    detail: AthenaStateChange


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    event = parse(event=record.json_body, model=AthenaStateChangeEvent)
    detail = event.detail
    try:
        outcome = on_state_change(
            wiring.deps(), detail.queryExecutionId, detail.currentState, detail.workgroupName
        )
        logger.info(
            "state change", extra={"athena_execution_id": detail.queryExecutionId, "outcome": outcome}
        )
        return outcome
    finally:
        # correlation keys belong to one record, not to the rest of the batch
        logger.remove_keys(["query_id", "tenant", "athena_execution_id"])


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
