"""Reading, listing, cancelling, results and usage through the api handler."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from fairshare.ports import Permanent, Transient

from tests.integration.conftest import Platform, api_event, athena_event, call_api, complete, dispatch, submit


def _finish(platform: Platform, query_id: str, **kwargs: object) -> str:
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    platform.athena.finish(execution.execution_id, **kwargs)  # type: ignore[arg-type]
    complete(athena_event(execution.execution_id, str(kwargs.get("state", "SUCCEEDED")), execution.workgroup))
    return execution.execution_id


def test_get_describes_a_finished_query_with_timings(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    platform.clock.advance(2)
    dispatch()
    platform.clock.advance(5)
    execution_id = _finish(platform, query_id, bytes_scanned=777)
    status, body = call_api(api_event("GET", f"/queries/{query_id}"))

    assert status == 200
    assert body["status"] == "SUCCEEDED"
    assert body["timings"] == {"queued_ms": 2000, "athena_queue_ms": 3, "engine_ms": 42}
    assert (body["bytes_scanned"], body["athena_execution_id"], body["error"]) == (777, execution_id, None)
    assert body["position"] is None


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("GET", "/results"), ("DELETE", "")], ids=["get", "results", "cancel"]
)
def test_another_tenants_query_id_is_404_like_an_unknown_one(
    platform: Platform, method: str, suffix: str
) -> None:
    query_id = submit(key="key-beta")[1]["query_id"]
    foreign = call_api(api_event(method, f"/queries/{query_id}{suffix}"))
    unknown = call_api(api_event(method, f"/queries/00000000-0000-4000-8000-000000000000{suffix}"))

    assert foreign[0] == unknown[0] == 404
    assert foreign[1]["error"]["code"] == unknown[1]["error"]["code"] == "not_found"
    assert platform.ledger.get(query_id).status == "QUEUED"  # type: ignore[union-attr]


def test_cancel_while_queued_removes_it_from_the_queue(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    status, body = call_api(api_event("DELETE", f"/queries/{query_id}"))
    again = call_api(api_event("DELETE", f"/queries/{query_id}"))
    dispatch()

    assert (status, body) == (200, {"query_id": query_id, "status": "CANCELLED"})
    assert again[0] == 409
    assert platform.state("tenant#alpha")["queued"] == 0
    assert platform.athena.start_calls == 0


def test_cancel_while_running_stops_athena_and_releases_the_slot_once(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    dispatch()
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    status, body = call_api(api_event("DELETE", f"/queries/{query_id}"))
    # Athena then reports the cancellation: the slot is not released a second time
    complete(athena_event(execution.execution_id, "CANCELLED", "fs-test-alpha"))

    assert (status, body["status"]) == (200, "CANCELLED")
    assert platform.athena.stop_calls == [execution.execution_id]
    assert platform.state("pool#DML")["active"] == 0
    assert platform.state("tenant#alpha")["running"] == 0
    assert call_api(api_event("DELETE", f"/queries/{query_id}"))[0] == 409


def _notifications(platform: Platform) -> list[dict[str, object]]:
    reply = platform.sqs.receive_message(QueueUrl=platform.notifications_queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


@pytest.mark.parametrize("admitted", [False, True], ids=["queued", "running"])
def test_a_cancel_notifies_the_tenant_once_like_every_terminal_state(
    platform: Platform, admitted: bool
) -> None:
    query_id = submit()[1]["query_id"]
    if admitted:
        dispatch()
    assert call_api(api_event("DELETE", f"/queries/{query_id}"))[0] == 200
    execution = platform.athena.execution_for(query_id)
    if execution is not None:  # Athena's own CANCELLED event follows, and is a duplicate
        complete(athena_event(execution.execution_id, "CANCELLED", "fs-test-alpha"))

    assert _notifications(platform) == [
        {"query_id": query_id, "tenant": "alpha", "status": "CANCELLED", "bytes_scanned": 0, "error": None}
    ]
    assert platform.metrics.total("CompletedQueries", tenant="alpha", status="CANCELLED") == 1
    assert platform.metrics.total("CancelledQueries", tenant="alpha") == 1


def test_results_give_a_presigned_link_under_the_tenants_prefix_and_the_first_rows(
    platform: Platform,
) -> None:
    query_id = submit()[1]["query_id"]
    dispatch()
    rows = [(str(n), f"name-{n}") for n in range(150)]
    execution_id = _finish(platform, query_id, columns=[("id", "integer"), ("name", "varchar")], rows=rows)
    status, body = call_api(api_event("GET", f"/queries/{query_id}/results"))
    second = call_api(
        api_event("GET", f"/queries/{query_id}/results", query={"page_token": body["next_page_token"]})
    )

    assert status == 200
    url = urllib.parse.urlparse(body["download_url"])
    assert url.path.endswith(f"/results/alpha/{execution_id}.csv")
    assert "Signature" in url.query or "X-Amz-Signature" in url.query
    assert body["expires_in"] == 900
    assert body["columns"] == [{"name": "id", "type": "integer"}, {"name": "name", "type": "varchar"}]
    assert len(body["rows"]) == 100 and body["rows"][0] == ["0", "name-0"]
    assert second[1]["rows"][0] == ["100", "name-100"] and second[1]["next_page_token"] is None


def _raise(error: Exception) -> object:
    def fail(*_: object) -> None:
        raise error

    return fail


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Transient("InternalServerException", "injected"), 503, "dependency_unavailable"),
        (Permanent("InvalidRequestException", "results expired"), 400, "validation_error"),
    ],
    ids=["athena-5xx", "athena-refuses"],
)
def test_results_when_athena_cannot_give_them(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, code: str
) -> None:
    query_id = submit()[1]["query_id"]
    dispatch()
    _finish(platform, query_id)
    monkeypatch.setattr(platform.athena, "results", _raise(error))
    answer = call_api(api_event("GET", f"/queries/{query_id}/results"))

    assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert "Traceback" not in answer[1]["error"]["message"]


def test_results_of_a_query_that_has_not_succeeded_are_a_conflict(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    status, body = call_api(api_event("GET", f"/queries/{query_id}/results"))

    assert status == 409 and body["error"]["code"] == "conflict"


def test_a_page_token_of_another_tenant_is_refused(platform: Platform) -> None:
    for n in range(3):
        submit(f"SELECT {n}", key="key-beta")
    beta_token = call_api(api_event("GET", "/queries", query={"limit": "1"}, key="key-beta"))[1][
        "next_page_token"
    ]
    forged = json.loads(base64.urlsafe_b64decode(beta_token + "=" * (-len(beta_token) % 4)))
    forged["t"] = "alpha"
    rebound = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()

    assert call_api(api_event("GET", "/queries", query={"page_token": beta_token}))[0] == 400
    assert call_api(api_event("GET", "/queries", query={"page_token": rebound}))[0] == 400


def test_usage_reports_share_bytes_and_effective_limits(platform: Platform) -> None:
    for n in range(3):
        submit(f"SELECT {n}")
    submit(key="key-beta")
    dispatch()
    status, body = call_api(api_event("GET", "/usage"))

    assert status == 200
    assert body == {
        "tenant": "alpha",
        "weight": 2.0,
        "running": 3,
        "queued": 0,
        "share": 0.75,
        "bytes_today": 0,
        "daily_bytes_budget": None,
        "effective_limit": {"DML": 10, "DDL": 3},
    }
