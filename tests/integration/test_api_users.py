"""Who submitted a query, per route and credential: recorded in the ledger, shown by GET /queries/{id},
grouped by the usage report. API-key callers declare a user (X-Fairshare-User, or the seed route's
userId); on the /iam routes the SigV4-verified caller ARN is the user and picks the tenant."""

from __future__ import annotations

import pytest
from fairshare.adapters.ddb_ledger import record_from_item
from fairshare_tools.tooling.usage import aggregate

from tests.integration.conftest import Platform, api_event, call_api, iam_event

ALPHA_USER = "arn:aws:iam::123456789012:user/alpha-ann"
ALPHA_SESSION = "arn:aws:sts::123456789012:assumed-role/alpha-analyst/bob@example.com"


def _post(event: dict[str, object]) -> tuple[int, dict[str, object]]:
    return call_api(event)


def _recorded(platform: Platform, query_id: str) -> tuple[str, str | None, str | None]:
    record = platform.ledger.get(query_id)
    assert record is not None
    return record.tenant, record.submitted_by, record.submitted_by_source


BODY = {"sql": "SELECT 1", "database": "default"}


def test_an_api_key_caller_may_declare_its_user(platform: Platform) -> None:
    status, body = _post(
        api_event("POST", "/queries", BODY, headers={"X-Fairshare-User": " ann@example.com "})
    )
    assert status == 202, body
    assert _recorded(platform, str(body["query_id"])) == ("alpha", "ann@example.com", "declared")
    status, shown = call_api(api_event("GET", f"/queries/{body['query_id']}"))
    assert status == 200
    assert (shown["submitted_by"], shown["submitted_by_source"]) == ("ann@example.com", "declared")


def test_without_the_header_no_user_is_recorded(platform: Platform) -> None:
    status, body = _post(api_event("POST", "/queries", BODY))
    assert status == 202, body
    assert _recorded(platform, str(body["query_id"])) == ("alpha", None, None)


@pytest.mark.parametrize("value", ["", "   ", "a" * 257, "ann\\x00", "ann\\nroot"])
def test_a_user_header_that_is_not_a_name_is_refused_and_nothing_is_written(
    platform: Platform, value: str
) -> None:
    value = value.encode().decode("unicode_escape")
    before = len(platform.query_items())
    status, body = _post(api_event("POST", "/queries", BODY, headers={"X-Fairshare-User": value}))
    assert status == 400, body
    assert "X-Fairshare-User" in str(body)
    assert len(platform.query_items()) == before


def test_the_seed_routes_user_id_is_recorded_as_declared(platform: Platform) -> None:
    request = {"userId": "carol", "queryId": "s" * 40, "query": "SELECT 1"}
    status, body = _post(api_event("POST", "/athena/query", request))
    assert status == 202, body
    assert _recorded(platform, str(body["query_id"])) == ("alpha", "carol", "declared")


@pytest.mark.parametrize("arn", [ALPHA_USER, ALPHA_SESSION])
def test_an_iam_caller_is_mapped_to_its_tenant_and_recorded_as_verified(platform: Platform, arn: str) -> None:
    # a declared user never replaces the verified one
    status, body = _post(
        iam_event("POST", "/queries", BODY, user_arn=arn, headers={"X-Fairshare-User": "mallory"})
    )
    assert status == 202, body
    assert _recorded(platform, str(body["query_id"])) == ("alpha", arn, "iam")
    status, shown = call_api(iam_event("GET", f"/queries/{body['query_id']}", user_arn=arn))
    assert status == 200 and shown["submitted_by"] == arn
    status, _ = call_api(api_event("GET", f"/queries/{body['query_id']}", key="key-beta"))
    assert status == 404  # it is alpha's, whichever way it came in


def test_the_seed_route_over_iam_records_the_caller_not_the_body(platform: Platform) -> None:
    request = {"userId": "someone-else", "queryId": "i" * 40, "query": "SELECT 1"}
    status, body = _post(iam_event("POST", "/athena/query", request, user_arn=ALPHA_USER))
    assert status == 202, body
    assert _recorded(platform, str(body["query_id"])) == ("alpha", ALPHA_USER, "iam")


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (None, 401),  # API Gateway passed no caller: not a SigV4-authorized request
        ("arn:aws:iam::123456789012:user/mallory", 403),  # mapped to no tenant
        ("arn:aws:iam::999999999999:user/alpha-ann", 403),  # another account
        ("arn:aws:iam::123456789012:role/shared-etl", 403),  # beta and gamma both claim it
    ],
)
def test_an_iam_caller_without_exactly_one_tenant_gets_nothing(
    platform: Platform, arn: str | None, expected: int
) -> None:
    before = len(platform.query_items())
    status, body = _post(iam_event("POST", "/queries", BODY, user_arn=arn))
    assert status == expected, body
    assert len(platform.query_items()) == before


def test_the_usage_report_groups_by_user_and_marks_declared_ones(platform: Platform) -> None:
    for event in (
        api_event("POST", "/queries", BODY, headers={"X-Fairshare-User": "ann"}),
        api_event("POST", "/queries", BODY, headers={"X-Fairshare-User": "ann"}),
        iam_event("POST", "/queries", BODY, user_arn=ALPHA_USER),
        api_event("POST", "/queries", BODY),
    ):
        assert _post(event)[0] == 202
    records = [r for r in map(record_from_item, platform.query_items()) if r.tenant == "alpha"]
    users = {row.user: row.queries for row in aggregate(records) if row.tenant == "alpha"}
    assert users == {"*": 4, "ann (self-declared)": 2, ALPHA_USER: 1, "-": 1}
