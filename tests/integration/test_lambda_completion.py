"""Completion: events to terminal states, the slot released exactly once, the tenant notified."""

from __future__ import annotations

import json
from typing import Any

import pytest

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


def test_a_traced_batch_reports_none_of_its_handled_records_as_failed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in Lambda: X-Ray on, with its Lambda context (the invocation's facade segment, from the trace
    # header, in every thread); the records of a batch run side by side, each traced in its own thread.
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext
    from fairshare.handlers import completion  # noqa: F401  (its Tracer, off outside Lambda, comes first)

    class Emitted:
        def __init__(self) -> None:
            self.names: list[str] = []

        def send_entity(self, entity: Any) -> None:
            self.names.append(entity.name)

        def set_daemon_address(self, address: str | None) -> None:
            pass

    tenants = [("key-alpha", "fs-test-alpha")] * 4 + [("key-beta", "fs-test-beta")] * 3
    running = [
        (_running(platform, f"SELECT {n}", key), workgroup) for n, (key, workgroup) in enumerate(tenants)
    ]
    for (_, execution_id), _ in running:
        platform.athena.finish(execution_id)

    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", "Root=1-6b1308b4-fdce9dfc0a1b2c3d4e5f6a7b;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    enabled = global_sdk_config.sdk_enabled()
    saved = {
        "context": xray_recorder.context,
        "emitter": xray_recorder.emitter,
        "sampling": xray_recorder.sampling,
        "streaming_threshold": xray_recorder.streaming_threshold,
    }
    emitted = Emitted()
    xray_recorder.configure(context=LambdaContext(), emitter=emitted, sampling=False, streaming_threshold=0)
    global_sdk_config.set_sdk_enabled(True)
    try:
        reply = complete(*(athena_event(e, "SUCCEEDED", workgroup) for (_, e), workgroup in running))
    finally:
        global_sdk_config.set_sdk_enabled(enabled)
        xray_recorder.configure(**saved)

    assert reply == {"batchItemFailures": []}
    assert all(platform.ledger.get(q).status == "SUCCEEDED" for (q, _), _ in running)  # type: ignore[union-attr]
    assert emitted.names.count("## fairshare.handlers.completion.handle_record") == len(
        running
    )  # each record was traced, in its thread
