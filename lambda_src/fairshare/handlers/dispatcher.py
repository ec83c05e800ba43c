"""The dispatcher: SQS wake-ups (any batch = one round), the EventBridge tick (round + reconcile),
and direct invocations (`{"reconcile": true}` to reconcile as well)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from fairshare import wiring
from fairshare.services.dispatch import Dispatcher
from fairshare.services.reconcile import reconcile

logger = Logger()
tracer = Tracer()


def _summary(report: Any) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in asdict(report).items()}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dispatcher = Dispatcher(wiring.deps())
    if "Records" in event:
        batch = parse(event=event, model=SqsModel)
        try:
            report = dispatcher.run_round()
        except Exception:
            # The round failed as a whole: every wake-up returns to the queue (and, in time, its DLQ).
            logger.exception("dispatch round failed")
            return {"batchItemFailures": [{"itemIdentifier": r.messageId} for r in batch.Records]}
        logger.info("dispatch round", extra={"wakeups": len(batch.Records), **_summary(report)})
        return {"batchItemFailures": []}
    if event.get("source") == "aws.events":
        parse(event=event, model=EventBridgeModel)
        round_report = dispatcher.run_round()
        repairs = reconcile(wiring.deps(), dispatcher)
        result = {"round": _summary(round_report), "reconcile": _summary(repairs)}
        logger.info("tick", extra=result)
        return result
    round_report = dispatcher.run_round()
    result = {"round": _summary(round_report)}
    if event.get("reconcile") is True:
        result["reconcile"] = _summary(reconcile(wiring.deps(), dispatcher))
    return result
