"""Redrive: dead letters back to their source queues, bounded, never for permanent failures."""

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


def test_redrive_moves_dead_letters_back_to_their_source_queue(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    platform.drain("submissions")
    _dead_letter(platform, "submissions", {"reason": "submit", "query_id": query_id})
    _dead_letter(platform, "athena-events", athena_event("e-1", "SUCCEEDED", "fs-test-alpha"))
    reply = _invoke(platform, {"source": "aws.events", "detail-type": "Scheduled Event"})

    assert reply["moved"] == {"submissions": 1, "athena-events": 1}
    assert platform.drain("submissions") == [{"reason": "submit", "query_id": query_id}]
    assert platform.drain("athena-events")[0]["detail"]["queryExecutionId"] == "e-1"
    assert platform.queue_depth("submissions-dlq") == platform.queue_depth("athena-events-dlq") == 0
    assert platform.metrics.total("RestartQueryCount") == 2


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
    for n in range(7):
        _dead_letter(platform, "submissions", {"reason": "submit", "query_id": f"q-{n}"})
    reply = _invoke(platform, {"queue": "submissions", "max_messages": 5})

    assert reply["moved"] == {"submissions": 5}
    assert platform.queue_depth("submissions") == 5
    assert platform.clock.slept == [1 / 50] * 5  # redrive_rate_per_s = 50
