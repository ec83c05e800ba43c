"""Redrive: DLQ messages back to their source queues at a bounded rate. Scheduled, or invoked by an
operator with `{"queue": "submissions"|"athena-events", "max_messages": N}`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from fairshare import wiring
from fairshare.services.redrive import redrive

logger = Logger()
tracer = Tracer()


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    queue: Literal["submissions", "athena-events"] | None = None
    max_messages: int | None = Field(None, ge=1, le=10_000)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RedriveRequest.model_validate({} if event.get("source") == "aws.events" else event)
    report = redrive(wiring.deps(), wiring.transport(), request.queue, request.max_messages)
    return asdict(report)
