"""Completion: events to terminal states, the slot released exactly once, the tenant notified."""

from __future__ import annotations

import json

from tests.integration.conftest import Platform, athena_event, complete, dispatch, submit


def _running(platform: Platform, sql: str = "SELECT 1", key: str = "key-alpha") -> tuple[str, str]:
    query_id = submit(sql, key=key)[1]["query_id"]
    dispatch()
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    return query_id, execution.execution_id


def test_a_completion_event_finalizes_the_query_and_releases_its_slot(platform: Platform) -> None:
    query_id, execution_id = _running(platform)
    platform.athena.finish(execution_id, bytes_scanned=2048)
    platform.drain("submissions")
    reply = complete(athena_event(execution_id, "SUCCEEDED", "fs-test-alpha"))

    record = platform.ledger.get(query_id)
    assert reply == {"batchItemFailures": []}
    assert record is not None
    assert (record.status, record.bytes_scanned, record.engine_ms) == ("SUCCEEDED", 2048, 42)
    assert record.output_location == f"s3://fairshare-results/results/alpha/{execution_id}.csv"
    assert platform.state("pool#DML")["active"] == 0
    assert platform.state("tenant#alpha")["running"] == 0
    assert platform.state("tenant#alpha")["bytes_today"] == 2048
    # the completion refilled the slot itself (nothing was queued): no wake-up goes through the queue
    assert platform.drain("submissions") == []


def test_a_completion_refills_the_slot_it_released_without_a_wake_up(platform: Platform) -> None:
    platform.athena.quota = 1  # foreign load holds the rest: one slot for the platform
    first, first_execution = _running(platform)
    waiting = submit("SELECT 'waiting'")[1]["query_id"]
    dispatch()  # the quota is full: the second query is throttled back to the head of its queue
    assert platform.ledger.get(waiting).status == "QUEUED"  # type: ignore[union-attr]
    platform.drain("submissions")
    platform.athena.finish(first_execution)

    complete(athena_event(first_execution, "SUCCEEDED", "fs-test-alpha"))

    assert platform.ledger.get(first).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert platform.ledger.get(waiting).status == "RUNNING"  # type: ignore[union-attr]
    assert platform.state("pool#DML")["active"] == 1
    assert platform.drain("submissions") == []


def test_a_refill_that_fails_falls_back_to_a_wake_up(platform: Platform, monkeypatch: object) -> None:
    from fairshare.services.dispatch import Dispatcher

    query_id, execution_id = _running(platform)
    platform.athena.finish(execution_id)
    platform.drain("submissions")

    def broken(self: Dispatcher) -> None:
        raise RuntimeError("ledger went away mid-round")

    monkeypatch.setattr(Dispatcher, "run_round", broken)  # type: ignore[attr-defined]
    reply = complete(athena_event(execution_id, "SUCCEEDED", "fs-test-alpha"))

    assert reply == {"batchItemFailures": []}  # the release itself landed
    assert platform.ledger.get(query_id).status == "SUCCEEDED"  # type: ignore[union-attr]
    assert platform.drain("submissions") == [{"reason": "refill", "query_id": None}]


def test_a_completion_event_delivered_twice_releases_once(platform: Platform) -> None:
    first, first_execution = _running(platform)
    _second, _ = _running(platform, "SELECT 2")
    platform.athena.finish(first_execution)
    event = athena_event(first_execution, "SUCCEEDED", "fs-test-alpha")

    complete(event, event)
    complete(event)

    assert platform.state("pool#DML")["active"] == 1  # only the first query's slot came back
    assert platform.state("tenant#alpha")["running"] == 1
    assert platform.state("tenant#alpha")["bytes_today"] == 1024
    assert platform.metrics.total("CompletedQueries") == 1
    assert platform.ledger.get(first).status == "SUCCEEDED"  # type: ignore[union-attr]


def test_the_tenant_is_notified_with_status_bytes_and_error(platform: Platform) -> None:
    query_id, execution_id = _running(platform)
    platform.athena.finish(execution_id, state="FAILED", bytes_scanned=10, error_message="division by zero")
    complete(athena_event(execution_id, "FAILED", "fs-test-alpha"))

    reply = platform.sqs.receive_message(QueueUrl=platform.notifications_queue, MaxNumberOfMessages=10)
    messages = [json.loads(m["Body"]) for m in reply.get("Messages", [])]
    assert messages == [
        {
            "query_id": query_id,
            "tenant": "alpha",
            "status": "FAILED",
            "bytes_scanned": 10,
            "error": {"code": "ATHENA_ERROR", "message": "division by zero"},
        }
    ]
    assert platform.ledger.get(query_id).error_kind == "athena"  # type: ignore[union-attr]


def test_bytes_today_roll_over_at_the_utc_day(platform: Platform) -> None:
    _, first = _running(platform)
    platform.athena.finish(first, bytes_scanned=500)
    complete(athena_event(first, "SUCCEEDED", "fs-test-alpha"))
    platform.clock.advance(86_400)
    _, second = _running(platform, "SELECT 2")
    platform.athena.finish(second, bytes_scanned=70)
    complete(athena_event(second, "SUCCEEDED", "fs-test-alpha"))

    assert platform.state("tenant#alpha")["bytes_today"] == 70


def test_executions_the_platform_does_not_own_are_ignored(platform: Platform) -> None:
    _running(platform)
    reply = complete(
        athena_event("11111111-2222-3333-4444-555555555555", "SUCCEEDED", "someone-elses-workgroup"),
        athena_event("11111111-2222-3333-4444-666666666666", "SUCCEEDED", "fs-test-alpha"),
    )

    assert reply == {"batchItemFailures": []}
    assert platform.state("pool#DML")["active"] == 1


def test_non_terminal_states_change_nothing(platform: Platform) -> None:
    query_id, execution_id = _running(platform)
    complete(
        athena_event(execution_id, "RUNNING", "fs-test-alpha"),
        athena_event(execution_id, "QUEUED", "fs-test-alpha"),
    )

    assert platform.ledger.get(query_id).status == "RUNNING"  # type: ignore[union-attr]
    assert platform.state("pool#DML")["active"] == 1


def test_a_malformed_record_fails_alone(platform: Platform) -> None:
    query_id, execution_id = _running(platform)
    platform.athena.finish(execution_id)
    reply = complete({"not": "an athena event"}, athena_event(execution_id, "SUCCEEDED", "fs-test-alpha"))

    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert platform.ledger.get(query_id).status == "SUCCEEDED"  # type: ignore[union-attr]
