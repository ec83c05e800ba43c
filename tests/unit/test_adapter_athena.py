"""The Athena adapter: one classification of errors (a test per class), no hidden retries on starts,
and the shapes it hands to the services."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from fairshare.adapters.athena import START_CLIENT_CONFIG, BotoAthena, classify
from fairshare.ports import Permanent, QuotaThrottle, RateThrottle, Transient


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartQueryExecution",
    )


def test_too_many_requests_is_a_quota_throttle() -> None:
    assert classify(client_error("TooManyRequestsException")) is QuotaThrottle


def test_throttling_exception_is_a_rate_throttle() -> None:
    assert classify(client_error("ThrottlingException")) is RateThrottle


def test_a_bare_429_is_a_rate_throttle() -> None:
    assert classify(client_error("SomethingNew", 429)) is RateThrottle


@pytest.mark.parametrize(
    "error",
    [
        client_error("InternalServerException", 500),
        client_error("ServiceUnavailable", 503),
        client_error("Unknown", 502),
        EndpointConnectionError(endpoint_url="https://athena.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://athena.us-east-1.amazonaws.com"),
    ],
    ids=["500", "503", "502", "connection", "read-timeout"],
)
def test_server_errors_and_connection_failures_are_transient(error: Exception) -> None:
    assert classify(error) is Transient


@pytest.mark.parametrize(
    "code", ["InvalidRequestException", "AccessDeniedException", "ResourceNotFoundException"]
)
def test_bad_sql_and_access_denied_are_permanent(code: str) -> None:
    assert classify(client_error(code)) is Permanent


def _quota_full_client(config: Any) -> tuple[Any, list[int]]:
    """A real botocore client whose every HTTP send answers Athena's quota error, without a socket."""
    client = boto3.client(
        "athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=config
    )
    sends: list[int] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sends.append(1)
        body = (
            b'{"__type":"TooManyRequestsException","Message":"full",'
            b'"Reason":"CONCURRENT_QUERY_LIMIT_EXCEEDED"}'
        )
        headers = {
            "x-amzn-errortype": "TooManyRequestsException",
            "content-type": "application/x-amz-json-1.1",
        }
        return AWSResponse(request.url, 400, headers, _Raw(body))

    client.meta.events.register("before-send.athena.StartQueryExecution", answer)
    return client, sends


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def test_the_start_client_surfaces_a_quota_throttle_after_one_attempt() -> None:
    client, sends = _quota_full_client(START_CLIENT_CONFIG)
    with pytest.raises(QuotaThrottle):
        BotoAthena(client).start("3b1f8a51-7f0c-4d55-9a51-2f4f1f6b1d10", "SELECT 1", "wg", "default")
    assert len(sends) == 1


def test_botocores_default_retries_would_hide_the_quota_throttle() -> None:
    client, sends = _quota_full_client(None)
    with pytest.raises(ClientError):
        client.start_query_execution(QueryString="SELECT 1", ClientRequestToken="t" * 36, WorkGroup="wg")
    assert len(sends) > 1  # why START_CLIENT_CONFIG exists


def test_start_passes_the_query_id_as_the_client_request_token() -> None:
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    query_id = "3b1f8a51-7f0c-4d55-9a51-2f4f1f6b1d10"
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "exec-1"},
            {
                "QueryString": "SELECT 1",
                "ClientRequestToken": query_id,
                "WorkGroup": "fs-dev-alpha",
                "QueryExecutionContext": {"Database": "sales"},
            },
        )
        assert BotoAthena(client).start(query_id, "SELECT 1", "fs-dev-alpha", "sales") == "exec-1"


def test_results_drop_the_header_row_of_the_first_page_only() -> None:
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    metadata = {"ColumnInfo": [{"Name": "id", "Type": "integer"}, {"Name": "name", "Type": "varchar"}]}

    def page(rows: list[list[str]], token: str | None) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "ResultSetMetadata": metadata,
            }
        }
        if token:
            reply["NextToken"] = token
        return reply

    with Stubber(client) as stub:
        stub.add_response("get_query_results", page([["id", "name"], ["1", "a"]], "next"))
        stub.add_response("get_query_results", page([["id", "name"]], None))
        athena = BotoAthena(client)
        first = athena.results("exec-1", None, 2)
        second = athena.results("exec-1", "next", 2)

    assert first.columns == [("id", "integer"), ("name", "varchar")]
    assert (first.rows, first.next_token) == ([["1", "a"]], "next")
    assert second.rows == [["id", "name"]]  # a data row that happens to look like the header stays


def test_get_reads_statistics_and_athenas_error() -> None:
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "exec-1",
                    "WorkGroup": "fs-dev-alpha",
                    "Status": {
                        "State": "FAILED",
                        "StateChangeReason": "line 1: syntax error",
                        "AthenaError": {"ErrorCategory": 2, "ErrorType": 1001, "ErrorMessage": "bad"},
                    },
                    "Statistics": {
                        "DataScannedInBytes": 99,
                        "EngineExecutionTimeInMillis": 12,
                        "QueryQueueTimeInMillis": 3,
                    },
                    "ResultConfiguration": {"OutputLocation": "s3://b/results/alpha/exec-1.csv"},
                }
            },
        )
        execution = BotoAthena(client).get("exec-1")

    assert (execution.state, execution.bytes_scanned, execution.engine_ms, execution.athena_queue_ms) == (
        "FAILED",
        99,
        12,
        3,
    )
    assert (execution.error_code, execution.error_message) == ("1001", "bad")
    assert execution.output_location == "s3://b/results/alpha/exec-1.csv"
