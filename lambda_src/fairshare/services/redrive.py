"""Moving dead letters back to their source queue, at a bounded rate, and poison out of the way.

Each dead letter is judged before anything is sent (`judge`):
- **redrive**: it names a query of the ledger (a wake-up's `query_id`, or an Athena event's
  `queryExecutionId` the ledger knows). It goes back to its source queue; a query that failed after
  exhausting transient retries is first put back in its queue, which is what an operator asks for by
  redriving it.
- **discard**: retrying cannot do anything. The query failed permanently (I-8: never retried), or
  the message is a well-formed wake-up that names no query (the tick's round does what it asked for).
  Deleted with a log line and `DiscardedDeadLetters`.
- **quarantine**: poison. The body is not JSON, not an object, names no query, or names one the
  ledger does not hold. It would fail again every time it is resent, so it goes, raw and with its
  reason as message attributes, to the source queue's quarantine queue (its own alarm), and is never
  resent. `QuarantinedDeadLetters` counts it.
So once a run has moved what it could, nothing that can be redriven is left in the DLQ, and the DLQ
alarm clears.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger

from fairshare.ports import QueryRecord, QueryStatus, QueueMessage, QueueTransport
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import Lifecycle

logger = Logger(child=True)

QueueName = Literal["submissions", "athena-events"]
SEND_TRIES = 4


class Verdict(enum.StrEnum):
    REDRIVE = "redrive"
    DISCARD = "discard"
    QUARANTINE = "quarantine"


@dataclass(slots=True, frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # why, in a few words (the quarantine's `reason` attribute, the log line)
    record: QueryRecord | None = None


@dataclass(slots=True)
class RedriveReport:
    moved: dict[str, int] = field(default_factory=dict)
    discarded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)
    stopped_early: bool = False


def _object(body: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def judge(deps: Deps, queue: QueueName, body: str) -> Judgement:
    """What to do with one dead letter of `queue` (see the module's docstring)."""
    parsed = _object(body)
    if parsed is None:
        return Judgement(Verdict.QUARANTINE, "not a JSON object")
    if queue == "submissions":
        query_id = parsed.get("query_id")
        if query_id is None and isinstance(parsed.get("reason"), str):
            return Judgement(Verdict.DISCARD, "a wake-up that names no query")
        if not isinstance(query_id, str) or not query_id:
            return Judgement(Verdict.QUARANTINE, "names no query (query_id)")
        record = deps.ledger.get(query_id)
    else:
        detail = parsed.get("detail")
        execution_id = detail.get("queryExecutionId") if isinstance(detail, dict) else None
        if not isinstance(execution_id, str) or not execution_id:
            return Judgement(Verdict.QUARANTINE, "names no query (detail.queryExecutionId)")
        record = deps.ledger.by_execution(execution_id)
    if record is None:
        return Judgement(Verdict.QUARANTINE, "names a query the ledger does not hold")
    if record.status == QueryStatus.FAILED and record.error_kind == "permanent":
        return Judgement(Verdict.DISCARD, "the query failed permanently (I-8)", record)
    return Judgement(Verdict.REDRIVE, "names a query of the ledger", record)


def redrive(
    deps: Deps, transport: QueueTransport, queue: QueueName | None = None, max_messages: int | None = None
) -> RedriveReport:
    config = deps.config
    routes: dict[QueueName, tuple[str, str, str]] = {
        "submissions": (
            config.submissions_dlq_url,
            config.submissions_queue_url,
            config.submissions_quarantine_url,
        ),
        "athena-events": (config.events_dlq_url, config.events_queue_url, config.events_quarantine_url),
    }
    budget = min(max_messages or config.redrive_max_per_run, config.redrive_max_per_run)
    interval = 1.0 / config.redrive_rate_per_s
    report = RedriveReport()
    for name in [queue] if queue else list(routes):
        dlq, source, quarantine = routes[name]
        report.moved[name] = report.discarded[name] = report.quarantined[name] = 0
        while budget > 0 and not report.stopped_early:
            messages = transport.receive(dlq, min(10, budget))
            if not messages:
                break
            for message in messages:
                if budget <= 0:
                    break
                budget -= 1
                if not _handle(deps, transport, name, message, (dlq, source, quarantine), report):
                    report.stopped_early = True  # left in the DLQ; its visibility timeout returns it
                    break
                deps.clock.sleep(interval)
    logger.info(
        "redrive done",
        extra={"moved": report.moved, "discarded": report.discarded, "quarantined": report.quarantined},
    )
    return report


def _handle(
    deps: Deps,
    transport: QueueTransport,
    name: QueueName,
    message: QueueMessage,
    urls: tuple[str, str, str],
    report: RedriveReport,
) -> bool:
    """One dead letter; False when a send kept failing (the message stays in the DLQ)."""
    dlq, source, quarantine = urls
    judgement = judge(deps, name, message.body)
    log = {"queue": name, "message_id": message.message_id, "reason": judgement.reason}
    if judgement.verdict is Verdict.DISCARD:
        logger.info("dead letter dropped: nothing to retry", extra=log)
        transport.delete(dlq, message.receipt_handle)
        report.discarded[name] += 1
        deps.metrics.emit("DiscardedDeadLetters", 1, queue=name)
        return True
    if judgement.verdict is Verdict.QUARANTINE:
        attributes = {"reason": judgement.reason, "source_queue": name, "message_id": message.message_id}
        if not _send(deps, transport, quarantine, message.body, attributes):
            return False
        logger.warning("poison dead letter quarantined; never resent", extra=log)
        transport.delete(dlq, message.receipt_handle)
        report.quarantined[name] += 1
        deps.metrics.emit("QuarantinedDeadLetters", 1, queue=name)
        return True
    record = judgement.record
    if (
        record is not None
        and record.status == QueryStatus.FAILED
        and record.error_kind == "transient"
        and Lifecycle(deps).restart(record)
    ):
        report.restarted.append(record.query_id)
    if not _send(deps, transport, source, message.body):
        return False
    transport.delete(dlq, message.receipt_handle)
    report.moved[name] += 1
    deps.metrics.emit("RedrivenDeadLetters", 1, queue=name)
    return True


def _send(
    deps: Deps,
    transport: QueueTransport,
    queue_url: str,
    body: str,
    attributes: dict[str, str] | None = None,
) -> bool:
    for attempt in range(SEND_TRIES):
        try:
            transport.send(queue_url, body, attributes)
            return True
        except Exception:
            logger.warning("redrive send failed", extra={"attempt": attempt + 1, "queue_url": queue_url})
            deps.clock.sleep(deps.rng.uniform(0, 0.5 * 2**attempt))
    return False
