"""Redrive: dead letters back to their source queues, bounded, never for permanent failures; poison
parked in the quarantine queues, never resent."""

from __future__ import annotations

import json

from fairshare import wiring
from fairshare.adapters.sqs import SqsTransport
from fairshare.handlers import redrive as redrive_handler
from fairshare.ports import Transient

from tests.integration.conftest import FakeContext, Platform, athena_event, dispatch, submit


def _invoke(platform: Platform, event: dict[str, object]) -> dict[str, object]:
    wiring.use_transport(SqsTransport(platform.sqs))
    return redrive_handler.handler(event, FakeContext())  # type: ignore[arg-type]


def _dead_letter(platform: Platform, queue: str, body: object) -> None:
    platform.sqs.send_message(QueueUrl=platform.queues[f"{queue}-dlq"], MessageBody=json.dumps(body))


def _started(platform: Platform) -> str:
    """A query running in Athena; returns its execution id."""
    query_id = submit()[1]["query_id"]
    dispatch()
    platform.drain("submissions")
    execution_id = platform.ledger.get(query_id).athena_execution_id  # type: ignore[union-attr]
    assert execution_id is not None
    return execution_id


def _quarantined(platform: Platform, queue: str) -> list[tuple[str, dict[str, str]]]:
    """Bodies and string attributes of the messages in `queue`'s quarantine (removed as read)."""
    found: list[tuple[str, dict[str, str]]] = []
    url = platform.queues[f"{queue}-quarantine"]
    while True:
        reply = platform.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        if not reply.get("Messages"):
            return found
        for message in reply["Messages"]:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            found.append((message["Body"], attributes))
            platform.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_redrive_moves_dead_letters_back_to_their_source_queue(platform: Platform) -> None:
    execution_id = _started(platform)
    query_id = submit()[1]["query_id"]
    platform.drain("submissions")
    _dead_letter(platform, "submissions", {"reason": "submit", "query_id": query_id})
    _dead_letter(platform, "athena-events", athena_event(execution_id, "SUCCEEDED", "fs-test-alpha"))
    reply = _invoke(platform, {"source": "aws.events", "detail-type": "Scheduled Event"})

    assert reply["moved"] == {"submissions": 1, "athena-events": 1}
    assert platform.drain("submissions") == [{"reason": "submit", "query_id": query_id}]
    assert platform.drain("athena-events")[0]["detail"]["queryExecutionId"] == execution_id
    assert platform.queue_depth("submissions-dlq") == platform.queue_depth("athena-events-dlq") == 0
    assert platform.metrics.total("RedrivenDeadLetters", queue="submissions") == 1
    assert platform.metrics.total("RedrivenDeadLetters", queue="athena-events") == 1


def test_redrive_never_redrives_a_query_that_failed_permanently(platform: Platform) -> None:
    platform.athena.permanent_sql.add("missing")
    query_id = submit("SELECT * FROM missing")[1]["query_id"]
    dispatch()
    platform.drain("submissions")
    _dead_letter(platform, "submissions", {"reason": "submit", "query_id": query_id})
    reply = _invoke(platform, {"queue": "submissions"})

    assert reply["discarded"] == {"submissions": 1}
    assert reply["moved"] == {"submissions": 0}
    assert platform.queue_depth("submissions") == platform.queue_depth("submissions-dlq") == 0
    assert platform.metrics.total("DiscardedDeadLetters") == 1


def test_redrive_restarts_a_query_that_exhausted_transient_retries(platform: Platform) -> None:
    platform.athena.script.extend(Transient("InternalServerException", "5xx") for _ in range(3))
    query_id = submit()[1]["query_id"]
    dispatch()
    platform.drain("submissions")
    assert platform.ledger.get(query_id).status == "FAILED"  # type: ignore[union-attr]
    reply = _invoke(platform, {"queue": "submissions"})
    dispatch()

    assert reply["restarted"] == [query_id]
    assert platform.ledger.get(query_id).status == "RUNNING"  # type: ignore[union-attr]


def test_redrive_moves_at_most_max_messages_at_the_configured_rate(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    platform.drain("submissions")
    for _ in range(7):
        _dead_letter(platform, "submissions", {"reason": "submit", "query_id": query_id})
    reply = _invoke(platform, {"queue": "submissions", "max_messages": 5})

    assert reply["moved"] == {"submissions": 5}
    assert platform.queue_depth("submissions") == 5
    assert platform.clock.slept == [1 / 50] * 5  # redrive_rate_per_s = 50


def test_redrive_quarantines_poison_with_its_raw_body_and_reason_and_never_resends_it(
    platform: Platform,
) -> None:
    execution_id = _started(platform)
    query_id = submit()[1]["query_id"]
    platform.drain("submissions")
    platform.sqs.send_message(QueueUrl=platform.queues["submissions-dlq"], MessageBody="{not json")
    _dead_letter(platform, "submissions", ["a", "list"])
    _dead_letter(platform, "submissions", {"reason": "submit", "query_id": "no-such-query"})
    _dead_letter(platform, "submissions", {"reason": "submit", "query_id": query_id})  # worth retrying
    _dead_letter(platform, "athena-events", {"detail-type": "Athena Query State Change", "detail": {}})
    _dead_letter(platform, "athena-events", athena_event("unknown-execution", "SUCCEEDED", "fs-test-alpha"))
    _dead_letter(platform, "athena-events", athena_event(execution_id, "SUCCEEDED", "fs-test-alpha"))
    reply = _invoke(platform, {"source": "aws.events", "detail-type": "Scheduled Event"})

    assert reply["quarantined"] == {"submissions": 3, "athena-events": 2}
    assert reply["moved"] == {"submissions": 1, "athena-events": 1}
    assert platform.queue_depth("submissions-dlq") == platform.queue_depth("athena-events-dlq") == 0
    assert platform.drain("submissions") == [{"reason": "submit", "query_id": query_id}]
    assert [e["detail"]["queryExecutionId"] for e in platform.drain("athena-events")] == [execution_id]
    parked = _quarantined(platform, "submissions")
    assert sorted(body for body, _ in parked) == sorted(
        ["{not json", '["a", "list"]', '{"reason": "submit", "query_id": "no-such-query"}']
    )
    reasons = {body: attributes["reason"] for body, attributes in parked}
    assert reasons["{not json"] == "not a JSON object"
    unknown = '{"reason": "submit", "query_id": "no-such-query"}'
    assert reasons[unknown] == "names a query the ledger does not hold"
    assert {attributes["source_queue"] for _, attributes in parked} == {"submissions"}
    assert all(attributes["message_id"] for _, attributes in parked)
    events = _quarantined(platform, "athena-events")
    assert sorted(a["reason"] for _, a in events) == [
        "names a query the ledger does not hold",
        "names no query (detail.queryExecutionId)",
    ]
    assert platform.metrics.total("QuarantinedDeadLetters", queue="submissions") == 3
    assert platform.metrics.total("QuarantinedDeadLetters", queue="athena-events") == 2

    again = _invoke(platform, {"source": "aws.events", "detail-type": "Scheduled Event"})
    assert again["moved"] == again["quarantined"] == {"submissions": 0, "athena-events": 0}


def test_redrive_drops_a_wake_up_that_names_no_query(platform: Platform) -> None:
    _dead_letter(platform, "submissions", {"reason": "refill", "query_id": None})
    reply = _invoke(platform, {"queue": "submissions"})

    assert reply["discarded"] == {"submissions": 1}
    assert reply["quarantined"] == reply["moved"] == {"submissions": 0}
    assert platform.queue_depth("submissions") == platform.queue_depth("submissions-dlq") == 0
    assert platform.queue_depth("submissions-quarantine") == 0


def test_redrive_counts_a_restart_for_the_tenant(platform: Platform) -> None:
    platform.athena.script.extend(Transient("InternalServerException", "5xx") for _ in range(3))
    submit()
    dispatch()
    platform.drain("submissions")
    _invoke(platform, {"queue": "submissions"})

    assert platform.metrics.total("RestartQueryCount", tenant="alpha") == 1
