"""Moving dead letters back to their source queue, at a bounded rate.

A message of a query that failed permanently is never redriven (I-8): it is deleted with a log line
and a metric. A query that failed after exhausting transient retries is put back in its queue, which
is what an operator asks for by redriving it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from aws_lambda_powertools import Logger

from fairshare.ports import QueryRecord, QueryStatus, QueueMessage, QueueTransport
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import Lifecycle

logger = Logger(child=True)

QueueName = Literal["submissions", "athena-events"]
SEND_TRIES = 4


@dataclass(slots=True)
class RedriveReport:
    moved: dict[str, int] = field(default_factory=dict)
    discarded: dict[str, int] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)
    stopped_early: bool = False


def _lookup(deps: Deps, queue: QueueName, message: QueueMessage) -> QueryRecord | None:
    try:
        body = json.loads(message.body)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if queue == "submissions":
        query_id = body.get("query_id")
        return deps.ledger.get(query_id) if isinstance(query_id, str) and query_id else None
    detail = body.get("detail")
    execution_id = detail.get("queryExecutionId") if isinstance(detail, dict) else None
    return deps.ledger.by_execution(execution_id) if isinstance(execution_id, str) and execution_id else None


def redrive(
    deps: Deps, transport: QueueTransport, queue: QueueName | None = None, max_messages: int | None = None
) -> RedriveReport:
    config = deps.config
    routes: dict[QueueName, tuple[str, str]] = {
        "submissions": (config.submissions_dlq_url, config.submissions_queue_url),
        "athena-events": (config.events_dlq_url, config.events_queue_url),
    }
    budget = min(max_messages or config.redrive_max_per_run, config.redrive_max_per_run)
    interval = 1.0 / config.redrive_rate_per_s
    report = RedriveReport()
    for name in [queue] if queue else list(routes):
        dlq, source = routes[name]
        report.moved[name] = report.discarded[name] = 0
        while budget > 0 and not report.stopped_early:
            messages = transport.receive(dlq, min(10, budget))
            if not messages:
                break
            for message in messages:
                if budget <= 0:
                    break
                budget -= 1
                record = _lookup(deps, name, message)
                if (
                    record is not None
                    and record.status == QueryStatus.FAILED
                    and record.error_kind == "permanent"
                ):
                    logger.info(
                        "dead letter of a permanently failed query dropped",
                        extra={"query_id": record.query_id, "queue": name},
                    )
                    transport.delete(dlq, message.receipt_handle)
                    report.discarded[name] += 1
                    deps.metrics.emit("DiscardedDeadLetters", 1, queue=name)
                    continue
                transient = (
                    record is not None
                    and record.status == QueryStatus.FAILED
                    and record.error_kind == "transient"
                )
                if transient and record is not None and Lifecycle(deps).restart(record):
                    report.restarted.append(record.query_id)
                if not _send(deps, transport, source, message.body):
                    report.stopped_early = True  # left in the DLQ; its visibility timeout returns it
                    break
                transport.delete(dlq, message.receipt_handle)
                report.moved[name] += 1
                deps.metrics.emit("RestartQueryCount", 1, queue=name)
                deps.clock.sleep(interval)
    logger.info("redrive done", extra={"moved": report.moved, "discarded": report.discarded})
    return report


def _send(deps: Deps, transport: QueueTransport, queue_url: str, body: str) -> bool:
    for attempt in range(SEND_TRIES):
        try:
            transport.send(queue_url, body)
            return True
        except Exception:
            logger.warning("redrive send failed", extra={"attempt": attempt + 1})
            deps.clock.sleep(deps.rng.uniform(0, 0.5 * 2**attempt))
    return False
