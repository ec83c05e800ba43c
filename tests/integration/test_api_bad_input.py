"""Every bad input of the tenant API is refused with a 4xx JSON error, and nothing is written:
ledger items and queue messages are counted before and after each request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.conftest import Platform, api_event, call_api

TOKEN = "t" * 40
VALID = {"sql": "SELECT 1", "database": "default"}
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@dataclass(frozen=True)
class Case:
    name: str
    status: int | tuple[int, ...]
    method: str = "POST"
    path: str = "/queries"
    body: Any = None
    raw_body: str | bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    key: str | None = "key-alpha"


def body(**changes: Any) -> dict[str, Any]:
    merged = {**VALID, **changes}
    return {k: v for k, v in merged.items() if v is not ...}


CASES = [
    # transport: JSON, content type, encoding, size
    Case("malformed json", 400, raw_body='{"sql": "SELECT 1",'),
    Case("not json at all", 400, raw_body="SELECT 1"),
    Case("json array", 400, body=[VALID]),
    Case("json string", 400, body="SELECT 1"),
    Case("json null", 400, raw_body="null"),
    Case("empty body", 400, raw_body=""),
    Case("no body", 400),
    Case("text/plain content type", 415, body=VALID, content_type="text/plain"),
    Case(
        "form content type",
        415,
        raw_body="sql=SELECT+1&database=default",
        content_type="application/x-www-form-urlencoded",
    ),
    Case("xml content type", 415, raw_body="<sql>SELECT 1</sql>", content_type="application/xml"),
    Case("missing content type", 415, body=VALID, content_type=None),
    Case("non-utf-8 body", 400, raw_body=b'{"sql": "SELECT \xff\xfe", "database": "default"}'),
    Case("body beyond 400 kB", 413, body=body(sql="SELECT '" + "x" * 400_000 + "'")),
    Case("huge headers", 400, body=VALID, headers={"X-Padding": "p" * 11_000}),
    # shape: missing, extra, wrong types
    Case("missing sql", 400, body=body(sql=...)),
    Case("missing database", 400, body=body(database=...)),
    Case("extra field tenant", 400, body=body(tenant="beta")),
    Case("extra field workgroup", 400, body=body(workgroup="fs-test-beta")),
    Case("sql is a number", 400, body=body(sql=1)),
    Case("sql is null", 400, body=body(sql=None)),
    Case("priority is a string", 400, body=body(priority="1")),
    Case("priority is a float", 400, body=body(priority=1.5)),
    Case("priority is a boolean", 400, body=body(priority=True)),
    Case("client_token is a number", 400, body=body(client_token=12345678901234567890123456789012345)),
    Case("database is a list", 400, body=body(database=["default"])),
    Case("output_format unknown", 400, body=body(output_format="parquet")),
    # the statement
    Case("empty sql", 400, body=body(sql="")),
    Case("blank sql", 400, body=body(sql="  \n\t ")),
    Case("comment-only sql", 400, body=body(sql="-- nothing here")),
    Case("sql of 262,145 bytes", 413, body=body(sql="SELECT '" + "x" * (262_145 - 9) + "'")),
    Case("multi-byte sql over the limit", 413, body=body(sql="SELECT '" + "é" * 131_070 + "'")),
    Case("nul in sql", 400, body=body(sql="SELECT 1\x00")),
    Case("two statements", 400, body=body(sql="SELECT 1; SELECT 2")),
    Case("statement after a comment", 400, body=body(sql="SELECT 1; -- x\nDROP TABLE t")),
    Case("unsupported statement", 400, body=body(sql="GRANT SELECT ON t TO u")),
    Case("unterminated quote", 400, body=body(sql="SELECT 'abc")),
    Case("ddl without allow_ddl", 403, body=body(sql="DROP TABLE t")),
    Case("ctas is dml but msck is ddl", 403, body=body(sql="MSCK REPAIR TABLE t")),
    # policy
    Case("unknown database", 400, body=body(database="finance")),
    Case("database injection", 400, body=body(database="default; DROP TABLE t")),
    Case("priority above the levels", 400, body=body(priority=3)),
    Case("negative priority", 400, body=body(priority=-1)),
    Case("client token too short", 400, body=body(client_token="a" * 31)),
    Case("client token too long", 400, body=body(client_token="a" * 129)),
    Case("client token with a slash", 400, body=body(client_token="a" * 35 + "/x")),
    Case("client token with spaces", 400, body=body(client_token="a" * 20 + " " + "b" * 20)),
    Case("client token unicode", 400, body=body(client_token="é" * 40)),
    # the seed-compatible route
    Case(
        "seed route missing userId", 400, path="/athena/query", body={"queryId": TOKEN, "query": "SELECT 1"}
    ),
    Case(
        "seed route short queryId",
        400,
        path="/athena/query",
        body={"userId": "u", "queryId": "q1", "query": "SELECT 1"},
    ),
    Case(
        "seed route extra field",
        400,
        path="/athena/query",
        body={"userId": "u", "queryId": TOKEN, "query": "SELECT 1", "tenant": "beta"},
    ),
    Case(
        "seed route empty query",
        400,
        path="/athena/query",
        body={"userId": "u", "queryId": TOKEN, "query": ""},
    ),
    # identity
    Case("no api key", 401, body=VALID, key=None),
    Case("unknown api key", 403, body=VALID, key="key-mallory"),
    # path ids and query strings
    Case("non-uuid id", 400, method="GET", path="/queries/12345", content_type=None),
    Case("sql injection id", 400, method="GET", path="/queries/1' OR '1'='1", content_type=None),
    Case(
        "script injection id",
        (400, 404),
        method="DELETE",
        path="/queries/<script>alert(1)</script>",
        content_type=None,
    ),
    Case("uuid in braces", 400, method="GET", path="/queries/{" + UUID + "}", content_type=None),
    Case("urn uuid", 400, method="DELETE", path=f"/queries/urn:uuid:{UUID}", content_type=None),
    Case("non-uuid results id", 400, method="GET", path="/queries/abc/results", content_type=None),
    Case("path traversal", (400, 404), method="GET", path="/queries/../usage", content_type=None),
    Case("limit zero", 400, method="GET", path="/queries", query={"limit": "0"}, content_type=None),
    Case("limit above 100", 400, method="GET", path="/queries", query={"limit": "101"}, content_type=None),
    Case("limit not a number", 400, method="GET", path="/queries", query={"limit": "ten"}, content_type=None),
    Case(
        "unknown status filter",
        400,
        method="GET",
        path="/queries",
        query={"status": "DONE"},
        content_type=None,
    ),
    Case(
        "forged page token",
        400,
        method="GET",
        path="/queries",
        query={"page_token": "eyJ0IjoiYSJ9"},
        content_type=None,
    ),
    Case(
        "garbage page token",
        400,
        method="GET",
        path="/queries",
        query={"page_token": "%%%"},
        content_type=None,
    ),
    Case(
        "results page token with spaces",
        400,
        method="GET",
        path=f"/queries/{UUID}/results",
        query={"page_token": "a b"},
        content_type=None,
    ),
    # routes and methods
    Case("unknown route", 404, method="GET", path="/admin", content_type=None),
    Case("unknown nested route", 404, method="GET", path="/queries/x/y/z", content_type=None),
    Case("wrong method on queries", (404, 405), method="PUT", body=VALID),
    Case("wrong method on usage", (404, 405), method="PATCH", path="/usage", body={}),
    Case("wrong method on a query", (404, 405), method="POST", path=f"/queries/{UUID}", body={}),
]


# docs/CONTRACTS.md: each 4xx status has one error code
CODE_OF_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _footprint(platform: Platform) -> tuple[int, int, int, list[str]]:
    """Ledger items, state items, wake-ups waiting, and the results bucket's keys."""
    items = platform.ddb.scan(TableName="queries", Select="COUNT", ConsistentRead=True)["Count"]
    state = platform.ddb.scan(TableName="state", Select="COUNT", ConsistentRead=True)["Count"]
    listing = platform.s3.list_objects_v2(Bucket=platform.config.results_bucket)
    keys = sorted(o["Key"] for o in listing.get("Contents", []))
    return items, state, platform.queue_depth("submissions"), keys


def test_the_matrix_holds_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_a_4xx_and_nothing_is_written(
    shared_platform: Platform, case: Case
) -> None:
    platform = shared_platform
    before = _footprint(platform)
    event = api_event(
        case.method,
        case.path,
        case.body,
        key=case.key,
        headers=case.headers,
        query=case.query,
        raw_body=case.raw_body,
        content_type=case.content_type,
    )
    status, reply = call_api(event)

    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert status in expected, f"{case.name}: expected {expected}, got {status} {json.dumps(reply)[:300]}"
    assert set(reply) == {"error"} and set(reply["error"]) == {"code", "message"}, reply
    assert reply["error"]["code"] == CODE_OF_STATUS[status], f"{case.name}: {reply}"
    assert _footprint(platform) == before
