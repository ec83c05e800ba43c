"""The Python client against the in-memory tenant API served on loopback."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fairshare_tools.client import ApiError, Client, QuerySpec, WaitTimeout, parse_query_file
from fairshare_tools.tooling.fakeapi import FakeTenantApi, serve


@pytest.fixture
def api() -> FakeTenantApi:
    return FakeTenantApi(api_keys={"key-a": "alpha", "key-b": "beta"})


@pytest.fixture
def endpoint(api: FakeTenantApi) -> Iterator[str]:
    with serve(api) as url:
        yield url


@pytest.fixture
def client(endpoint: str) -> Iterator[Client]:
    with Client(endpoint, "key-a", retries=0) as c:
        yield c


def test_submit_returns_the_query_id_and_sends_the_api_key_and_a_client_token(
    client: Client, api: FakeTenantApi
) -> None:
    submission = client.submit("SELECT 1", database="sales", priority=2)
    assert submission.status in {"QUEUED", "RUNNING"}
    assert api.requests_seen[-1] == ("POST", "/queries", "key-a")
    stored = api.queries[submission.query_id]
    assert (stored.database, stored.priority, stored.tenant) == ("sales", 2, "alpha")
    assert any(token for (tenant, token) in api.tokens if tenant == "alpha")


def test_the_submitting_user_is_sent_and_recorded_as_declared(
    endpoint: str, api: FakeTenantApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIRSHARE_USER", "ann@example.com")
    with Client(endpoint, "key-a", retries=0) as by_env:
        status = by_env.status(by_env.submit("SELECT 1").query_id)
    assert (status.submitted_by, status.submitted_by_source) == ("ann@example.com", "declared")
    with Client(endpoint, "key-a", retries=0, user="bob") as named:
        assert api.queries[named.submit("SELECT 1").query_id].submitted_by == "bob"
    with Client(endpoint, "key-a", retries=0, user="") as anonymous:
        assert api.queries[anonymous.submit("SELECT 1").query_id].submitted_by is None
    monkeypatch.delenv("FAIRSHARE_USER")
    with Client(endpoint, "key-a", retries=0) as by_login:
        assert by_login.user  # the login name


def test_the_database_defaults_to_athenas_default(client: Client, api: FakeTenantApi) -> None:
    assert api.queries[client.submit("SELECT 1").query_id].database == "default"


def test_the_same_client_token_returns_the_same_query(client: Client) -> None:
    first = client.submit("SELECT 1", client_token="t" * 32)
    again = client.submit("SELECT 1", client_token="t" * 32)
    assert first.query_id == again.query_id


def test_wait_reports_every_poll_and_returns_the_terminal_status(client: Client, api: FakeTenantApi) -> None:
    api.queue_s = 0.05
    submission = client.submit("SELECT 1 /* fairshare:duration=0.1 */")
    seen: list[str] = []
    final = client.wait(
        submission.query_id, poll_interval_s=0.02, on_update=lambda s, _e: seen.append(s.status)
    )
    assert final.status == "SUCCEEDED"
    assert final.bytes_scanned == 3 * 1_048_576
    assert seen[-1] == "SUCCEEDED"
    assert "QUEUED" in seen or "RUNNING" in seen, seen


def test_wait_times_out_with_the_last_status(client: Client, api: FakeTenantApi) -> None:
    submission = client.submit("SELECT 1 /* fairshare:duration=30 */")
    with pytest.raises(WaitTimeout) as raised:
        client.wait(submission.query_id, timeout_s=0.05, poll_interval_s=0.01)
    assert raised.value.code == "wait_timeout"
    assert raised.value.last.status == "RUNNING"


def test_api_errors_carry_code_message_and_status(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.status("no-such-query")
    assert (raised.value.code, raised.value.status) == ("not_found", 404)
    assert "no-such-query" in raised.value.message


def test_a_gateway_403_without_our_error_shape_becomes_forbidden(endpoint: str) -> None:
    with Client(endpoint, "wrong-key", retries=0) as client, pytest.raises(ApiError) as raised:
        client.usage()
    assert (raised.value.code, raised.value.status, raised.value.message) == ("forbidden", 403, "Forbidden")


def test_a_503_is_retried_and_then_succeeds(endpoint: str, api: FakeTenantApi) -> None:
    api.fail_next = [(503, "dependency_unavailable")]
    with Client(endpoint, "key-a", retries=2) as client:
        assert client.usage().tenant == "alpha"


def test_a_429_is_not_retried(endpoint: str, api: FakeTenantApi) -> None:
    api.fail_next = [(429, "queue_full")]
    with Client(endpoint, "key-a", retries=2) as client, pytest.raises(ApiError) as raised:
        client.submit("SELECT 1")
    assert raised.value.code == "queue_full"
    assert len(api.fail_next) == 0


def test_an_unreachable_endpoint_is_a_connection_error() -> None:
    with (
        Client("http://127.0.0.1:9", "k", retries=0, timeout_s=1) as client,
        pytest.raises(ApiError) as raised,
    ):
        client.usage()
    assert raised.value.code == "connection_error"


def test_a_query_id_with_a_slash_is_refused_before_any_request(client: Client, api: FakeTenantApi) -> None:
    with pytest.raises(ApiError, match="not a query id"):
        client.status("../usage")
    assert api.requests_seen == []


def test_rows_stream_from_the_presigned_url_without_the_api_key(client: Client, api: FakeTenantApi) -> None:
    final = client.run("SELECT n FROM t", poll_interval_s=0.01)
    api.queries[final.query_id].rows = 5
    rows = list(client.iter_rows(final.query_id))
    assert rows == [[str(i), f"row-{i}", "default"] for i in range(1, 6)]


def test_rows_from_pages_follow_the_page_tokens(client: Client, api: FakeTenantApi) -> None:
    final = client.run("SELECT n FROM t", poll_interval_s=0.01)
    api.queries[final.query_id].rows = 5
    rows = client.iter_rows(final.query_id, source="pages")
    assert next(rows) == ["1", "row-1", "default"]
    assert [r[0] for r in rows] == ["2", "3", "4", "5"]
    result_calls = [r for r in api.requests_seen if r[1].endswith("/results")]
    assert len(result_calls) == 3  # page size 2: pages of 2, 2 and 1


def test_download_copies_the_csv_with_its_header(client: Client) -> None:
    final = client.run("SELECT n FROM t", poll_interval_s=0.01)
    sink = io.BytesIO()
    written = client.download(final.query_id, sink)
    text = sink.getvalue().decode()
    assert written == len(sink.getvalue())
    assert text.splitlines()[0] == '"n","label","db"'
    assert len(text.splitlines()) == 4


def test_results_of_an_unfinished_query_are_a_conflict(client: Client) -> None:
    submission = client.submit("SELECT 1 /* fairshare:duration=30 */")
    with pytest.raises(ApiError) as raised:
        list(client.iter_rows(submission.query_id))
    assert raised.value.code == "conflict"


def test_cancel_then_cancel_again_is_a_conflict(client: Client) -> None:
    submission = client.submit("SELECT 1 /* fairshare:duration=30 */")
    assert client.cancel(submission.query_id).status == "CANCELLED"
    assert client.status(submission.query_id).status == "CANCELLED"
    with pytest.raises(ApiError) as raised:
        client.cancel(submission.query_id)
    assert raised.value.code == "conflict"


def test_list_pages_through_the_tenants_own_queries_only(endpoint: str, client: Client) -> None:
    mine = {client.submit(f"SELECT {i}").query_id for i in range(5)}
    with Client(endpoint, "key-b", retries=0) as other:
        other.submit("SELECT 99")
    listed = [q.query_id for q in client.list_queries()]
    assert set(listed) == mine
    assert len(list(client.list_queries(limit=3))) == 3


def test_another_tenants_query_is_not_found(endpoint: str, client: Client) -> None:
    submission = client.submit("SELECT 1")
    with Client(endpoint, "key-b", retries=0) as other, pytest.raises(ApiError) as raised:
        other.status(submission.query_id)
    assert raised.value.code == "not_found"


def test_submit_many_is_bounded_and_reports_each_outcome(client: Client) -> None:
    specs = [QuerySpec(sql=f"SELECT {i} /* fairshare:duration=0.02 */") for i in range(6)]
    specs.append(QuerySpec(sql="SELECT 0 /* fairshare:fail=boom */"))
    specs.append(QuerySpec(sql="  "))
    done: list[int] = []
    outcomes = client.submit_many(
        specs, max_workers=3, wait=True, poll_interval_s=0.01, on_done=lambda o: done.append(o.index)
    )
    assert sorted(done) == list(range(8))
    assert [o.index for o in outcomes] == list(range(8))
    assert [o.ok for o in outcomes] == [True] * 6 + [False, False]
    assert outcomes[6].status is not None and outcomes[6].status.status == "FAILED"
    assert outcomes[7].error is not None and outcomes[7].error.code == "validation_error"


def test_a_malformed_body_is_a_bad_response(client: Client, api: FakeTenantApi) -> None:
    api.fail_next = [(200, "ignored")]  # 200 with an error body: no query_id
    with pytest.raises(ApiError) as raised:
        client.submit("SELECT 1")
    assert raised.value.code == "bad_response"
    assert "query_id" in raised.value.message


def test_query_files_hold_sql_statements_or_json_lines() -> None:
    text = """-- two statements and a JSON line
SELECT 1;
SELECT *
FROM t
WHERE x = 'a;b';
{"sql": "SELECT 2", "priority": 2, "database": "other"}
SELECT 3
"""
    specs = parse_query_file(io.StringIO(text), database="sales")
    assert [s.sql for s in specs] == ["SELECT 1", "SELECT *\nFROM t\nWHERE x = 'a;b'", "SELECT 2", "SELECT 3"]
    assert [s.database for s in specs] == ["sales", "sales", "other", "sales"]
    assert specs[2].priority == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"sql": 1}', 'non-empty "sql"'),
        ("{nope", "not valid JSON"),
        ('{"sql": "x", "priority": "hi"}', "integer"),
    ],
)
def test_bad_json_lines_name_the_line(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"line 2: .*{message}"):
        parse_query_file(["SELECT 1;\n", line])
