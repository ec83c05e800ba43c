"""The Athena-compatible endpoint driven by a real botocore Athena client over HTTP (docs/CONTRACTS.md)."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from fairshare.ports import ApiCredential
from fairshare.services import athena_api
from fairshare_tools.testing.fakes import FakeApiKeys

from tests.integration.athena_endpoint import SECRETS, Endpoint, credentials, serve
from tests.integration.conftest import REGION, Platform, athena_event, complete, dispatch, submit


@pytest.fixture
def endpoint(platform: Platform) -> Iterator[Endpoint]:
    with serve(platform) as served:
        yield served


def _finish(platform: Platform, query_id: str, **kwargs: Any) -> str:
    execution = platform.athena.execution_for(query_id)
    assert execution is not None, f"query {query_id} was never started"
    platform.athena.finish(execution.execution_id, **kwargs)
    complete(athena_event(execution.execution_id, str(kwargs.get("state", "SUCCEEDED")), execution.workgroup))
    return execution.execution_id


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = excinfo.value.response
    return (
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
        str(response["Error"]["Code"]),
        str(response["Error"].get("Message", "")),
    )


def _raw(
    endpoint: Endpoint, target: str, body: bytes, *, key: str = "key-alpha"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A request signed by botocore's signer but built by hand (what no Athena client would send)."""
    request = AWSRequest(
        method="POST",
        url=endpoint.url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(key, SECRETS[key]), "athena", REGION).add_auth(request)
    return _send(endpoint.url, body, dict(request.headers.items()))


def _send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
    http = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers.items())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers.items())


# --- StartQueryExecution and the reads answered from the ledger -------------------------------------
def test_a_started_query_is_queued_in_the_tenants_queue_and_reads_back_as_athena_queued(
    platform: Platform, endpoint: Endpoint
) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(
        QueryString="SELECT 1", QueryExecutionContext={"Database": "sales"}, WorkGroup="primary"
    )["QueryExecutionId"]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    record = platform.ledger.get(query_id)

    assert record is not None and record.status == "QUEUED" and record.tenant == "alpha"
    assert (record.workgroup, record.database, record.submitted_by) == ("fs-test-alpha", "sales", "key-alpha")
    assert record.submitted_by_source == "sigv4"
    assert execution["Status"]["State"] == "QUEUED"
    assert execution["WorkGroup"] == "fs-test-alpha"  # forced to the tenant's, whatever the request named
    assert execution["QueryExecutionContext"] == {"Database": "sales", "Catalog": "AwsDataCatalog"}
    assert execution["Query"] == "SELECT 1" and execution["StatementType"] == "DML"
    assert platform.athena.start_calls == 0 and platform.athena.get_calls == 0


def test_an_admitted_query_is_still_queued_for_athena_clients(platform: Platform, endpoint: Endpoint) -> None:
    query_id = endpoint.client().start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    record = platform.ledger.get(query_id)
    assert record is not None
    admitted = dataclasses.replace(record, status="ADMITTED", admitted_at=record.submitted_at + 5)
    execution = athena_api.query_execution(admitted, record.submitted_at + 10)

    assert execution["Status"]["State"] == "QUEUED"
    assert execution["Statistics"]["QueryQueueTimeInMillis"] == 5


def test_a_finished_query_reports_state_statistics_and_output_location(
    platform: Platform, endpoint: Endpoint
) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    platform.clock.advance(2)
    dispatch()
    running = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    platform.clock.advance(3)
    _finish(platform, query_id, bytes_scanned=777)
    done = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

    assert running["Status"]["State"] == "RUNNING"
    assert done["Status"]["State"] == "SUCCEEDED"
    assert "CompletionDateTime" in done["Status"] and "AthenaError" not in done["Status"]
    stats = done["Statistics"]
    # the platform's 2 s queue plus Athena's own 3 ms
    assert stats["QueryQueueTimeInMillis"] == 2003
    assert (stats["EngineExecutionTimeInMillis"], stats["DataScannedInBytes"]) == (42, 777)
    assert stats["TotalExecutionTimeInMillis"] == 5000
    assert done["ResultConfiguration"]["OutputLocation"].startswith("s3://fairshare-results/results/alpha/")


def test_a_failed_query_carries_athena_error_and_the_reason(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT broken")["QueryExecutionId"]
    dispatch()
    _finish(platform, query_id, state="FAILED", error_message="line 1:8: Column 'broken' cannot be resolved")
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]

    assert status["State"] == "FAILED"
    assert "cannot be resolved" in status["StateChangeReason"]
    assert status["AthenaError"]["ErrorMessage"] == status["StateChangeReason"]
    assert status["AthenaError"]["Retryable"] is False


def test_the_same_client_request_token_returns_the_same_query(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    token = "tok-" + "a" * 40
    first = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)["QueryExecutionId"]
    again = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)["QueryExecutionId"]
    with pytest.raises(ClientError) as excinfo:
        athena.start_query_execution(QueryString="SELECT 2", ClientRequestToken=token)

    assert first == again
    assert len(platform.query_items()) == 1
    assert _error(excinfo)[:2] == (400, "InvalidRequestException")


def test_a_database_outside_the_tenants_list_is_invalid_request(
    platform: Platform, endpoint: Endpoint
) -> None:
    with pytest.raises(ClientError) as excinfo:
        endpoint.client().start_query_execution(
            QueryString="SELECT 1", QueryExecutionContext={"Database": "hr"}
        )

    assert _error(excinfo)[:2] == (400, "InvalidRequestException")
    assert excinfo.value.response["Error"]["Message"].startswith("database must be one of")
    assert platform.query_items() == []


def test_a_full_tenant_queue_answers_too_many_requests(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    for _ in range(platform.config.tenants["alpha"].max_queued):
        athena.start_query_execution(QueryString="SELECT 1")
    with pytest.raises(athena.exceptions.TooManyRequestsException) as excinfo:
        athena.start_query_execution(QueryString="SELECT 1")

    assert excinfo.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    assert int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]) == 400
    assert len(platform.query_items()) == platform.config.tenants["alpha"].max_queued


def test_ddl_a_tenant_may_not_run_is_access_denied(platform: Platform, endpoint: Endpoint) -> None:
    with pytest.raises(ClientError) as excinfo:
        endpoint.client().start_query_execution(QueryString="CREATE TABLE t (a int)")

    assert _error(excinfo)[:2] == (400, "AccessDeniedException")


def test_batch_get_answers_own_ids_and_lists_unknown_and_foreign_ones_as_unprocessed(
    platform: Platform, endpoint: Endpoint
) -> None:
    own = endpoint.client().start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    foreign = endpoint.client("key-beta").start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    unknown = "00000000-0000-4000-8000-000000000000"
    reply = endpoint.client().batch_get_query_execution(QueryExecutionIds=[own, foreign, unknown])

    assert [e["QueryExecutionId"] for e in reply["QueryExecutions"]] == [own]
    unprocessed = {u["QueryExecutionId"]: u for u in reply["UnprocessedQueryExecutionIds"]}
    assert set(unprocessed) == {foreign, unknown}
    assert unprocessed[foreign]["ErrorMessage"] == f"QueryExecution {foreign} was not found"
    assert platform.athena.get_calls == 0


@pytest.mark.parametrize("operation", ["get_query_execution", "get_query_results", "stop_query_execution"])
def test_another_tenants_query_id_is_invalid_request_like_an_unknown_one(
    platform: Platform, endpoint: Endpoint, operation: str
) -> None:
    foreign = endpoint.client("key-beta").start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    unknown = "00000000-0000-4000-8000-000000000000"
    answers = []
    for query_id in (foreign, unknown):
        with pytest.raises(ClientError) as excinfo:
            getattr(endpoint.client(), operation)(QueryExecutionId=query_id)
        status, code, message = _error(excinfo)
        answers.append((status, code, message.replace(query_id, "<id>")))

    assert answers[0] == answers[1] == (400, "InvalidRequestException", "QueryExecution <id> was not found")
    assert platform.ledger.get(foreign).status == "QUEUED"  # type: ignore[union-attr]


# --- results, stop, list ----------------------------------------------------------------------------
def test_get_query_results_pages_athenas_result_set(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT n, name FROM t")["QueryExecutionId"]
    dispatch()
    rows = [(str(n), None if n == 2 else f"name-{n}") for n in range(5)]
    _finish(platform, query_id, columns=[("n", "integer"), ("name", "varchar")], rows=rows)
    first = athena.get_query_results(QueryExecutionId=query_id, MaxResults=4)
    second = athena.get_query_results(QueryExecutionId=query_id, MaxResults=4, NextToken=first["NextToken"])
    paged = [
        row
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
        for row in page["ResultSet"]["Rows"]
    ]

    header = {"Data": [{"VarCharValue": "n"}, {"VarCharValue": "name"}]}
    assert first["ResultSet"]["Rows"][0] == header
    assert first["ResultSet"]["Rows"][3] == {"Data": [{"VarCharValue": "2"}, {}]}  # NULL: no VarCharValue
    assert [c["Name"] for c in first["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]] == ["n", "name"]
    assert first["UpdateCount"] == 0
    assert len(second["ResultSet"]["Rows"]) == 2 and "NextToken" not in second
    assert len(paged) == 6 and paged[0] == header


def test_results_of_an_unfinished_query_are_refused_as_athena_refuses_them(
    platform: Platform, endpoint: Endpoint
) -> None:
    query_id = endpoint.client().start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    with pytest.raises(ClientError) as excinfo:
        endpoint.client().get_query_results(QueryExecutionId=query_id)

    assert _error(excinfo) == (
        400,
        "InvalidRequestException",
        "Query has not yet finished. Current state: QUEUED",
    )


def test_stop_cancels_a_queued_query_and_a_second_stop_succeeds(
    platform: Platform, endpoint: Endpoint
) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    athena.stop_query_execution(QueryExecutionId=query_id)
    athena.stop_query_execution(QueryExecutionId=query_id)
    dispatch()

    assert (
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        == "CANCELLED"
    )
    assert platform.athena.start_calls == 0


def test_stop_of_a_running_query_stops_it_in_athena(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    dispatch()
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution = platform.athena.execution_for(query_id)

    assert execution is not None and platform.athena.stop_calls == [execution.execution_id]


def test_list_query_executions_pages_through_the_tenants_own(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    own = set()
    for _ in range(3):
        own.add(athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"])
        platform.clock.advance(0.01)
    endpoint.client("key-beta").start_query_execution(QueryString="SELECT 1")
    first = athena.list_query_executions(MaxResults=2)
    second = athena.list_query_executions(MaxResults=2, NextToken=first["NextToken"])
    with pytest.raises(ClientError) as excinfo:
        athena.list_query_executions(WorkGroup="fs-test-beta")

    assert len(first["QueryExecutionIds"]) == 2
    assert set(first["QueryExecutionIds"]) | set(second["QueryExecutionIds"]) == own
    assert _error(excinfo)[:2] == (400, "InvalidRequestException")


# --- workgroups and the catalog ---------------------------------------------------------------------
def test_work_group_calls_show_only_the_tenants_own(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    listed = athena.list_work_groups()["WorkGroups"]
    own = athena.get_work_group(WorkGroup="fs-test-alpha")["WorkGroup"]
    with pytest.raises(ClientError) as excinfo:
        athena.get_work_group(WorkGroup="fs-test-beta")

    assert [w["Name"] for w in listed] == ["fs-test-alpha"]
    assert (
        own["Configuration"]["ResultConfiguration"]["OutputLocation"]
        == "s3://fairshare-results/results/alpha/"
    )
    assert own["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert _error(excinfo) == (400, "InvalidRequestException", "WorkGroup fs-test-beta is not found.")


def test_catalog_calls_see_only_the_tenants_databases(platform: Platform, endpoint: Endpoint) -> None:
    platform.athena.catalog = {
        "default": {"events": [("id", "bigint")]},
        "sales": {"orders": [("order_id", "bigint"), ("total", "double")]},
        "hr": {"salaries": [("name", "string")]},
    }
    athena = endpoint.client("key-alpha")
    catalogs = athena.list_data_catalogs()["DataCatalogsSummary"]
    databases = athena.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]
    first = athena.list_databases(CatalogName="AwsDataCatalog", MaxResults=1)
    tables = athena.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="sales")[
        "TableMetadataList"
    ]
    table = athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="sales", TableName="orders")
    database = athena.get_database(CatalogName="AwsDataCatalog", DatabaseName="default")["Database"]
    refused = []
    for call, kwargs in [
        (athena.get_database, {"DatabaseName": "hr"}),
        (athena.list_table_metadata, {"DatabaseName": "hr"}),
        (athena.get_table_metadata, {"DatabaseName": "hr", "TableName": "salaries"}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            call(CatalogName="AwsDataCatalog", **kwargs)
        refused.append(_error(excinfo))

    assert catalogs == [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]
    assert [d["Name"] for d in databases] == ["default", "sales"]
    assert [d["Name"] for d in first["DatabaseList"]] == ["default"] and first["NextToken"] == "1"
    assert [t["Name"] for t in tables] == ["orders"]
    assert [c["Name"] for c in table["TableMetadata"]["Columns"]] == ["order_id", "total"]
    assert database["Name"] == "default"
    assert [(status, code) for status, code, _ in refused] == [(400, "MetadataException")] * 3
    assert all(m.startswith("Database hr not found. (Service: AmazonDataCatalog;") for _, _, m in refused)


# --- authentication, limits and Athena's error shape -------------------------------------------------
def test_a_request_signed_with_the_wrong_secret_is_invalid_signature(
    platform: Platform, endpoint: Endpoint
) -> None:
    with pytest.raises(ClientError) as excinfo:
        endpoint.client(secret="not-the-key-value").list_work_groups()

    status, code, message = _error(excinfo)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match")


def test_an_unknown_access_key_is_unrecognized_client(platform: Platform, endpoint: Endpoint) -> None:
    with pytest.raises(ClientError) as excinfo:
        endpoint.client("key-nobody", secret="whatever").list_work_groups()

    assert _error(excinfo)[:2] == (403, "UnrecognizedClientException")


def test_a_disabled_key_is_refused_like_an_unknown_one(platform: Platform) -> None:
    keys = FakeApiKeys({"key-alpha": ApiCredential("key-alpha", SECRETS["key-alpha"], False, 10, 10)})
    with serve(platform, keys) as endpoint, pytest.raises(ClientError) as excinfo:
        endpoint.client().list_work_groups()

    assert _error(excinfo)[:2] == (403, "UnrecognizedClientException")


def test_a_tenant_over_its_usage_plan_rate_is_throttled(platform: Platform) -> None:
    with serve(platform, FakeApiKeys(credentials(rate_per_s=0.001, burst=2))) as endpoint:
        athena = endpoint.client()
        athena.list_work_groups()
        athena.list_work_groups()
        with pytest.raises(ClientError) as excinfo:
            athena.list_work_groups()
        beta = endpoint.client("key-beta").list_work_groups()  # its own bucket

    assert _error(excinfo) == (400, "ThrottlingException", "Rate exceeded")
    assert beta["WorkGroups"][0]["Name"] == "fs-test-beta"


def test_an_unsigned_request_is_refused_in_athenas_shape(platform: Platform, endpoint: Endpoint) -> None:
    status, body, headers = _send(
        endpoint.url,
        b"{}",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonAthena.ListWorkGroups"},
    )

    assert status == 403
    assert body["__type"] == "UnrecognizedClientException" and body["Message"].startswith("Missing")
    assert headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_a_signature_older_than_fifteen_minutes_is_refused(platform: Platform, endpoint: Endpoint) -> None:
    athena = endpoint.client()
    athena.list_work_groups()
    platform.clock.advance(16 * 60)
    with pytest.raises(ClientError) as excinfo:
        athena.list_work_groups()

    status, code, message = _error(excinfo)
    assert (status, code) == (403, "InvalidSignatureException") and message.startswith("Signature expired")


def test_a_body_changed_after_signing_is_invalid_signature(platform: Platform, endpoint: Endpoint) -> None:
    request = AWSRequest(
        method="POST",
        url=endpoint.url,
        data=b'{"WorkGroup": "fs-test-alpha"}',
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonAthena.GetWorkGroup"},
    )
    SigV4Auth(Credentials("key-alpha", SECRETS["key-alpha"]), "athena", REGION).add_auth(request)
    status, body, _ = _send(endpoint.url, b'{"WorkGroup": "fs-test-beta"}', dict(request.headers.items()))

    assert (status, body["__type"]) == (403, "InvalidSignatureException")


def test_an_unknown_target_is_unknown_operation(platform: Platform, endpoint: Endpoint) -> None:
    status, body, _ = _raw(endpoint, "AmazonAthena.DropEverything", b"{}")
    other, other_body, _ = _raw(endpoint, "DynamoDB_20120810.ListTables", b"{}")

    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "DropEverything" in body["Message"]
    assert (other, other_body["__type"]) == (400, "UnknownOperationException")


def test_an_athena_operation_the_platform_does_not_serve_is_invalid_request(
    platform: Platform, endpoint: Endpoint
) -> None:
    with pytest.raises(ClientError) as excinfo:
        endpoint.client().create_work_group(Name="mine")

    status, code, message = _error(excinfo)
    assert (status, code) == (400, "InvalidRequestException")
    assert message == "CreateWorkGroup is not available through the fair-share platform"
    assert excinfo.value.response["AthenaErrorCode"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"QueryString": 5}', "InvalidRequestException"),
        (b'{"QueryString": "SELECT 1", "Bogus": 1}', "InvalidRequestException"),
        (b"{}", "InvalidRequestException"),
        (b'{"QueryString": "SELECT 1", "QueryExecutionContext": "sales"}', "SerializationException"),
        (b"not json", "SerializationException"),
        (b"[1]", "SerializationException"),
    ],
    ids=["wrong-type", "unknown-member", "missing-required", "string-for-structure", "not-json", "array"],
)
def test_input_that_does_not_match_the_model_is_refused_in_athenas_shape(
    platform: Platform, endpoint: Endpoint, body: bytes, kind: str
) -> None:
    status, reply, _ = _raw(endpoint, "AmazonAthena.StartQueryExecution", body)

    assert (status, reply["__type"]) == (400, kind)
    assert reply["Message"]
    assert platform.query_items() == []


def test_rest_submissions_and_athena_reads_see_the_same_ledger(
    platform: Platform, endpoint: Endpoint
) -> None:
    query_id = submit()[1]["query_id"]
    execution = endpoint.client().get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

    assert execution["QueryExecutionId"] == query_id and execution["Status"]["State"] == "QUEUED"


def test_polling_clients_never_reach_athenas_get_query_execution(
    platform: Platform, endpoint: Endpoint
) -> None:
    athena = endpoint.client()
    query_id = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    dispatch()
    before = platform.athena.get_calls
    for _ in range(20):
        athena.get_query_execution(QueryExecutionId=query_id)
        athena.batch_get_query_execution(QueryExecutionIds=[query_id])

    assert platform.athena.get_calls == before == 0
    assert endpoint.keys.lookups == 1 + 40  # the fake has no cache; the adapter reads each key once a minute


def test_an_oversized_body_is_refused_before_it_is_read(platform: Platform, endpoint: Endpoint) -> None:
    body = json.dumps({"QueryString": "SELECT '" + "x" * 400_000 + "'"}).encode()
    status, reply, _ = _raw(endpoint, "AmazonAthena.StartQueryExecution", body)

    assert (status, reply["__type"]) == (400, "InvalidRequestException")
    assert platform.query_items() == []


def test_results_and_catalog_calls_are_made_as_the_callers_tenant(
    platform: Platform, endpoint: Endpoint
) -> None:
    platform.athena.catalog = {"sales": {"orders": [("order_id", "bigint")]}}
    athena = endpoint.client("key-beta")
    query_id = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    dispatch()
    execution_id = _finish(platform, query_id)
    athena.get_query_results(QueryExecutionId=query_id)
    athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="sales", TableName="orders")
    passed_through = [
        (t, op, ref) for t, op, ref in platform.athena.calls_as if op in ("query_results", "GetTableMetadata")
    ]

    assert passed_through == [("beta", "query_results", execution_id), ("beta", "GetTableMetadata", "sales")]
