"""Tenant isolation (I-4): with tenant A's credentials, nothing of tenant B's can be read, listed,
fetched, cancelled or run into; a missing or revoked key gets nothing at all.

Tenant B (beta) has a SUCCEEDED query with a result object, two RUNNING and one QUEUED; tenant A
(alpha) has one SUCCEEDED query of its own. Every case must fail, and B's queries, the ledger, the
queues and the bucket must be exactly as they were.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fairshare.services.queries import encode_page_token

from tests.integration.conftest import (
    BUCKET,
    Platform,
    api_event,
    athena_event,
    call_api,
    complete,
    dispatch,
    reset,
    submit,
    wired,
)

ROUTES = [
    ("GET", "/queries/{id}"),
    ("GET", "/queries/{id}/results"),
    ("DELETE", "/queries/{id}"),
]


@dataclass
class World:
    platform: Platform
    a_ids: list[str]
    b_ids: dict[str, str]  # label -> query id


def _finish(platform: Platform, query_id: str, tenant: str) -> None:
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    platform.athena.finish(execution.execution_id)
    platform.s3.put_object(
        Bucket=BUCKET, Key=f"results/{tenant}/{execution.execution_id}.csv", Body=b'"n"\n"1"\n'
    )
    complete(athena_event(execution.execution_id, "SUCCEEDED", execution.workgroup))


@pytest.fixture(scope="module")
def world(_moto_stage: Platform) -> Iterator[World]:
    with wired(reset(_moto_stage)) as platform:
        b = [submit(f"SELECT {i} AS b", key="key-beta")[1]["query_id"] for i in range(5)]
        a = [submit("SELECT 1 AS a", key="key-alpha")[1]["query_id"]]
        dispatch()  # beta's cap is 3: three start, two stay QUEUED
        _finish(platform, b[0], "beta")  # the completion refills beta's freed slot with the fourth
        _finish(platform, a[0], "alpha")
        statuses = {q: platform.ledger.get(q).status for q in b}  # type: ignore[union-attr]
        assert list(statuses.values()) == ["SUCCEEDED", "RUNNING", "RUNNING", "RUNNING", "QUEUED"], statuses
        yield World(platform, a, {"succeeded": b[0], "running": b[1], "running2": b[2], "queued": b[4]})


def _snapshot(platform: Platform) -> dict[str, Any]:
    items = sorted(json.dumps(i, sort_keys=True) for i in platform.query_items())
    state = sorted(
        json.dumps(i, sort_keys=True)
        for i in platform.ddb.scan(TableName="state", ConsistentRead=True)["Items"]
    )
    objects = platform.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    return {
        "items": items,
        "state": state,
        "objects": objects,
        "queue": platform.queue_depth("submissions"),
        "stops": list(platform.athena.stop_calls),
    }


def _b_ids_in(body: dict[str, Any], world: World) -> set[str]:
    return {q["query_id"] for q in body.get("queries", [])} & set(world.b_ids.values())


@pytest.mark.parametrize("label", ["succeeded", "running", "running2", "queued"])
@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_a_cannot_touch_b_query_by_id(world: World, method: str, route: str, label: str) -> None:
    before = _snapshot(world.platform)
    status, body = call_api(api_event(method, route.format(id=world.b_ids[label]), key="key-alpha"))
    assert status == 404, body
    assert body["error"]["code"] == "not_found"
    assert world.b_ids[label] not in json.dumps(body).replace(f"query {world.b_ids[label]} not found", "")
    assert _snapshot(world.platform) == before


@pytest.mark.parametrize("label", ["succeeded", "running", "queued"])
@pytest.mark.parametrize(
    ("method", "route"), [*ROUTES, ("GET", "/queries"), ("GET", "/usage"), ("POST", "/queries")]
)
@pytest.mark.parametrize(("key", "expected"), [(None, 401), ("key-revoked", 403), ("", 401)])
def test_a_missing_or_revoked_key_gets_nothing(
    world: World, method: str, route: str, label: str, key: str | None, expected: int
) -> None:
    before = _snapshot(world.platform)
    body = {"sql": "SELECT 1", "database": "default"} if method == "POST" else None
    status, reply = call_api(api_event(method, route.format(id=world.b_ids[label]), body, key=key))
    assert status == expected, reply
    assert set(reply) == {"error"}
    assert _snapshot(world.platform) == before


@pytest.mark.parametrize(
    "query",
    [
        None,
        *({"status": s} for s in ("QUEUED", "ADMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")),
        {"limit": "100"},
        {"tenant": "beta"},
        {"tenant_id": "beta", "owner": "beta"},
        {"status": "RUNNING", "tenant": "beta", "limit": "100"},
    ],
)
def test_list_filters_never_show_b_queries(world: World, query: dict[str, str] | None) -> None:
    status, body = call_api(api_event("GET", "/queries", key="key-alpha", query=query))
    assert status == 200, body
    assert _b_ids_in(body, world) == set()
    assert {q["query_id"] for q in body["queries"]} <= set(world.a_ids)


def test_b_sees_its_own_queries_so_the_list_checks_are_not_vacuous(world: World) -> None:
    status, body = call_api(api_event("GET", "/queries", key="key-beta", query={"limit": "100"}))
    assert status == 200
    assert _b_ids_in(body, world) == set(world.b_ids.values())


def _token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_page_tokens_of_b_or_pointing_into_b_are_refused(world: World) -> None:
    b_record = world.platform.ledger.get(world.b_ids["running"])
    assert b_record is not None
    b_key = {"query_id": b_record.query_id, "tenant": "beta", "submitted_at": b_record.submitted_at}
    forged = [
        encode_page_token("beta", b_key),  # minted for B
        _token({"t": "alpha", "k": b_key}),  # A's envelope around B's key
        _token({"t": "alpha", "k": {**b_key, "tenant": "alpha"}, "x": 1}),
        _token({"t": "beta", "k": {**b_key, "tenant": "alpha"}}),
    ]
    for token in forged:
        status, body = call_api(api_event("GET", "/queries", key="key-alpha", query={"page_token": token}))
        assert status == 400, (token, body)
        assert body["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "extra",
    [
        {"workgroup": "fs-test-beta"},
        {"tenant": "beta"},
        {"api_key_id": "key-beta"},
        {"output_location": f"s3://{BUCKET}/results/beta/"},
    ],
)
def test_a_cannot_name_b_workgroup_tenant_or_output_in_the_body(world: World, extra: dict[str, str]) -> None:
    before = _snapshot(world.platform)
    status, body = call_api(
        api_event("POST", "/queries", {"sql": "SELECT 1", "database": "default", **extra}, key="key-alpha")
    )
    assert status == 400, body
    assert _snapshot(world.platform) == before


def test_a_cannot_submit_into_a_database_it_was_not_given(world: World) -> None:
    before = _snapshot(world.platform)
    for database in ("beta_private", "default;beta", "DEFAULT", "sales "):
        status, body = call_api(
            api_event("POST", "/queries", {"sql": "SELECT 1", "database": database}, key="key-alpha")
        )
        assert status == 400, (database, body)
    assert _snapshot(world.platform) == before


def test_what_a_submits_runs_only_in_a_workgroup_whatever_it_claims(world: World) -> None:
    platform = world.platform
    headers = {"X-Tenant": "beta", "X-Api-Key": "beta-secret", "X-Amz-Workgroup": "fs-test-beta"}
    status, body = call_api(
        api_event(
            "POST",
            "/athena/query",
            {"userId": "beta", "queryId": "q" * 40, "query": "SELECT 2"},
            key="key-alpha",
            headers=headers,
        )
    )
    assert status == 202, body
    record = platform.ledger.get(body["query_id"])
    assert record is not None
    assert (record.tenant, record.workgroup, record.submitted_by) == ("alpha", "fs-test-alpha", "beta")
    dispatch()
    execution = platform.athena.execution_for(body["query_id"])
    assert execution is not None and execution.workgroup == "fs-test-alpha"
    assert {e.workgroup for e in platform.athena.executions.values() if e.token in world.a_ids} == {
        "fs-test-alpha"
    }
    status, usage = call_api(api_event("GET", "/usage", key="key-alpha", headers=headers))
    assert status == 200 and usage["tenant"] == "alpha"
    call_api(api_event("DELETE", f"/queries/{body['query_id']}", key="key-alpha"))


def test_the_same_client_token_is_a_different_query_for_each_tenant(world: World) -> None:
    token = "shared-token-" + "z" * 30
    status_a, a = call_api(
        api_event("POST", "/queries", {"sql": "SELECT 3", "database": "default", "client_token": token})
    )
    status_b, b = call_api(
        api_event(
            "POST",
            "/queries",
            {"sql": "SELECT 4", "database": "default", "client_token": token},
            key="key-beta",
        )
    )
    assert (status_a, status_b) == (202, 202)
    assert a["query_id"] != b["query_id"]  # B's replay never returns (or reveals) A's query
    for key, query_id in (("key-alpha", a["query_id"]), ("key-beta", b["query_id"])):
        assert call_api(api_event("DELETE", f"/queries/{query_id}", key=key))[0] == 200


def test_a_result_recorded_outside_the_tenant_prefix_gets_no_link(world: World) -> None:
    """Defence in depth: even a query of A's whose result Athena wrote into B's prefix gets no URL."""
    platform = world.platform
    query_id = submit("SELECT 5", key="key-alpha")[1]["query_id"]
    dispatch()
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    saved = dict(platform.athena.outputs)
    platform.athena.outputs["fs-test-alpha"] = f"s3://{BUCKET}/results/beta/"  # a hostile location
    try:
        platform.athena.finish(execution.execution_id)
        complete(athena_event(execution.execution_id, "SUCCEEDED", "fs-test-alpha"))
        status, body = call_api(api_event("GET", f"/queries/{query_id}/results", key="key-alpha"))
    finally:
        platform.athena.outputs.clear()
        platform.athena.outputs.update(saved)
    assert status == 200, body
    assert body["download_url"] is None and body["expires_in"] is None


def test_an_a_result_link_points_into_a_prefix_only(world: World) -> None:
    status, body = call_api(api_event("GET", f"/queries/{world.a_ids[0]}/results", key="key-alpha"))
    assert status == 200, body
    assert "/results/alpha/" in body["download_url"]
    assert "/results/beta/" not in body["download_url"]


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("SELECT * FROM beta_private.orders", "awsdatacatalog.beta_private.orders"),
        ('SELECT * FROM "AwsDataCatalog"."Beta_Private"."Orders"', "awsdatacatalog.beta_private.orders"),
        ("SELECT 1 AS a UNION SELECT n FROM beta_private.orders", "awsdatacatalog.beta_private.orders"),
        ("SELECT * FROM sales.t JOIN beta_private.orders o ON true", "awsdatacatalog.beta_private.orders"),
        ("WITH x AS (SELECT * FROM beta_private.orders) SELECT * FROM x", "beta_private.orders"),
        ("CREATE TABLE beta_private.stolen AS SELECT * FROM sales.t", "awsdatacatalog.beta_private.stolen"),
        ("INSERT INTO beta_private.orders SELECT * FROM sales.t", "awsdatacatalog.beta_private.orders"),
        ("SELECT * FROM other_catalog.sales.t", "other_catalog.sales.t"),
    ],
)
def test_a_cannot_name_a_table_outside_its_databases(world: World, sql: str, table: str) -> None:
    before = _snapshot(world.platform)
    status, body = call_api(api_event("POST", "/queries", {"sql": sql, "database": "sales"}, key="key-alpha"))
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    assert table in body["error"]["message"]
    assert _snapshot(world.platform) == before


def test_the_owner_of_a_database_may_name_its_tables(world: World) -> None:
    sql = "SELECT * FROM beta_private.orders UNION SELECT n FROM sales.t"
    request = {"sql": sql, "database": "default"}
    status, body = call_api(api_event("POST", "/queries", request, key="key-beta"))
    assert status == 202, body
    assert call_api(api_event("DELETE", f"/queries/{body['query_id']}", key="key-beta"))[0] == 200
