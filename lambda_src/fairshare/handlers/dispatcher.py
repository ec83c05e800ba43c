"""The dispatcher: SQS wake-ups (any batch = one round), the EventBridge tick (Athena's usage
samples, round, reconcile), and direct invocations (`{"reconcile": true}` to reconcile as well)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from fairshare import wiring
from fairshare.services.dispatch import Dispatcher
from fairshare.services.reconcile import reconcile

logger = Logger()
tracer = Tracer()


def _summary(report: Any) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in asdict(report).items()}


def _message_ids(event: dict[str, Any]) -> list[str]:
    """Any wake-up means one round, whatever its body; only the ids matter, to report failures."""
    try:
        return [record.messageId for record in parse(event=event, model=SqsModel).Records]
    except ValidationError:
        logger.warning("SQS batch does not match the SQS event model; using its message ids as they are")
        return [str(r.get("messageId")) for r in event.get("Records", []) if isinstance(r, dict)]


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dispatcher = Dispatcher(wiring.deps())
    if "Records" in event:
        message_ids = _message_ids(event)
        try:
            report = dispatcher.run_round()
        except Exception:
            # The round failed as a whole: every wake-up returns to the queue (and, in time, its DLQ).
            logger.exception("dispatch round failed")
            return {"batchItemFailures": [{"itemIdentifier": m} for m in message_ids]}
        logger.info("dispatch round", extra={"wakeups": len(message_ids), **_summary(report)})
        return {"batchItemFailures": []}
    if event.get("source") == "aws.events":
        parse(event=event, model=EventBridgeModel)
        rooms = dispatcher.observe_usage()
        round_report = dispatcher.run_round()
        repairs = reconcile(wiring.deps(), dispatcher)
        result = {"rooms": rooms, "round": _summary(round_report), "reconcile": _summary(repairs)}
        logger.info("tick", extra=result)
        return result
    round_report = dispatcher.run_round()
    result = {"round": _summary(round_report)}
    if event.get("reconcile") is True:
        result["reconcile"] = _summary(reconcile(wiring.deps(), dispatcher))
    return result
