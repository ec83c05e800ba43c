"""The submit routes: idempotency, policy (DDL, budget, max_queued), failures of the ledger and SQS."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Platform, api_event, call_api, dispatch, submit

TOKEN = "client-token-0123456789abcdef-0001"


def test_duplicate_submit_with_the_same_token_returns_the_same_query(platform: Platform) -> None:
    first_status, first = submit("SELECT 42", token=TOKEN)
    again_status, again = submit("SELECT 42", token=TOKEN)

    assert (first_status, again_status) == (202, 200)
    assert again["query_id"] == first["query_id"]
    assert len(platform.query_items()) == 1
    assert platform.state("tenant#alpha")["queued"] == 1


def test_the_same_token_with_a_different_body_is_a_conflict(platform: Platform) -> None:
    submit("SELECT 42", token=TOKEN)
    status, body = submit("SELECT 43", token=TOKEN)

    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    assert len(platform.query_items()) == 1


def test_seed_route_records_the_user_and_uses_query_id_as_the_client_token(platform: Platform) -> None:
    body = {"userId": "ana", "queryId": TOKEN, "query": "SELECT 1"}
    status, created = call_api(api_event("POST", "/athena/query", body))
    replay_status, replay = call_api(api_event("POST", "/athena/query", body))
    _, described = call_api(api_event("GET", f"/queries/{created['query_id']}"))

    assert (status, replay_status) == (202, 200)
    assert replay["query_id"] == created["query_id"]
    assert described["submitted_by"] == "ana"
    assert described["database"] == "default"


def test_ddl_is_refused_without_allow_ddl(platform: Platform) -> None:
    status, body = submit("CREATE TABLE t (a int)")

    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    assert platform.query_items() == []


def test_a_full_queue_answers_429_and_writes_nothing(platform: Platform) -> None:
    for n in range(6):  # alpha's max_queued
        assert submit(f"SELECT {n}")[0] == 202
    status, body = submit("SELECT 'one too many'")

    assert status == 429, body
    assert body["error"]["code"] == "queue_full"
    assert len(platform.query_items()) == 6
    assert platform.state("tenant#alpha")["queued"] == 6


def _spend(platform: Platform, tenant: str, bytes_today: int) -> None:
    platform.ddb.put_item(
        TableName="state",
        Item={
            "pk": {"S": f"tenant#{tenant}"},
            "bytes_day": {"S": platform.deps.today()},
            "bytes_today": {"N": str(bytes_today)},
        },
    )


def test_budget_hold_accepts_but_the_dispatcher_holds_the_query(platform: Platform) -> None:
    _spend(platform, "delta", 1000)
    status, body = submit(key="key-delta")
    dispatch()

    assert status == 202
    assert platform.ledger.get(body["query_id"]).status == "QUEUED"  # type: ignore[union-attr]
    assert platform.athena.start_calls == 0
    assert platform.metrics.total("BudgetHeldQueries", tenant="delta") == 1


def test_ledger_down_answers_503_and_nothing_is_half_written(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "TransactWriteItems")

    monkeypatch.setattr(platform.ddb, "transact_write_items", unavailable)
    status, body = submit()

    assert status == 503, body
    assert body["error"]["code"] == "dependency_unavailable"
    assert platform.query_items() == []
    assert platform.state("tenant#alpha").get("queued", 0) == 0
    assert platform.queue_depth("submissions") == 0


def test_sqs_down_after_the_ledger_write_still_answers_202_and_the_tick_admits(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    monkeypatch.setattr(platform.sqs, "send_message", unavailable)
    status, body = submit()
    monkeypatch.undo()
    from tests.integration.conftest import tick

    tick()

    assert status == 202
    assert platform.ledger.get(body["query_id"]).status == "RUNNING"  # type: ignore[union-attr]


def test_unknown_api_key_is_403_and_a_missing_one_401(platform: Platform) -> None:
    unknown = call_api(api_event("GET", "/usage", key="key-nobody"))
    missing = call_api(api_event("GET", "/usage", key=None))

    assert unknown[0] == 403 and unknown[1]["error"]["code"] == "forbidden"
    assert missing[0] == 401 and missing[1]["error"]["code"] == "unauthorized"


def test_the_tenant_comes_from_the_key_never_from_the_body(platform: Platform) -> None:
    status, _body = call_api(
        api_event("POST", "/queries", {"sql": "SELECT 1", "database": "default", "tenant": "beta"})
    )

    assert status == 400
    assert platform.query_items() == []


def test_an_unexpected_error_is_a_500_without_a_stack_trace(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairshare.services import queries

    def broken(*_: Any) -> None:
        raise RuntimeError("secret internals at /var/task/fairshare/services/queries.py line 3")

    monkeypatch.setattr(queries, "usage", broken)
    status, body = call_api(api_event("GET", "/usage"))

    assert status == 500
    assert body == {"error": {"code": "internal_error", "message": "internal error"}}
