"""The emulator over loopback HTTP through boto3: error shapes as botocore parses them, a flow, admin."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from fairshare_athena_emulator.runtime import EmulatorRuntime
from fairshare_athena_emulator.server import EmulatorServer, account_and_region
from fairshare_athena_emulator.settings import EmulatorSettings

from .helpers import MemoryStore, RecordingEvents, RecordingMetrics

OUTPUT = {"OutputLocation": "s3://results/athena/"}
SIGNED_BY_ACCOUNT = "AWS4-HMAC-SHA256 Credential=111122223333/20261122/eu-west-1/athena/aws4_request"


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def server(events: RecordingEvents) -> Iterator[EmulatorServer]:
    store, metrics = MemoryStore(), RecordingMetrics()
    settings = EmulatorSettings(
        dml_quota=4, ddl_quota=1, queue_seconds=0.05, run_seconds_min=0.1, run_seconds_max=0.1
    )
    runtime = EmulatorRuntime(settings, lambda account, region: (store, events, metrics))
    emulator = EmulatorServer(runtime, port=0).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def athena(server: EmulatorServer) -> Any:
    return boto3.client(
        "athena",
        endpoint_url=server.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="111122223333",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _admin(server: EmulatorServer, method: str, route: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server.endpoint_url}/_fairshare/athena/{route}", data=data, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_for(athena: Any, execution_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=execution_id)[
            "QueryExecution"
        ]
        if (
            execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED")
            or time.monotonic() > deadline
        ):
            return execution
        time.sleep(0.02)


def test_the_quota_error_has_athenas_exact_wire_shape(server: EmulatorServer, athena: Any) -> None:
    for _ in range(4):
        athena.start_query_execution(
            QueryString="SELECT 1 /* fairshare:duration=30 */", ResultConfiguration=OUTPUT
        )
    request = urllib.request.Request(
        server.endpoint_url + "/",
        data=json.dumps({"QueryString": "SELECT 1", "ResultConfiguration": OUTPUT}).encode(),
        headers={
            "X-Amz-Target": "AmazonAthena.StartQueryExecution",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": SIGNED_BY_ACCOUNT,
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    assert raised.value.headers["X-Amzn-Errortype"] == "TooManyRequestsException"
    body = json.loads(raised.value.read())
    assert set(body) == {"__type", "Message", "Reason"}
    assert body["__type"] == "TooManyRequestsException"
    assert body["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"

    with pytest.raises(athena.exceptions.TooManyRequestsException) as boto_error:
        athena.start_query_execution(QueryString="SELECT 1", ResultConfiguration=OUTPUT)
    assert boto_error.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    assert boto_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invalid_requests_raise_invalid_request_exception(athena: Any) -> None:
    with pytest.raises(athena.exceptions.InvalidRequestException, match="is not found"):
        athena.get_work_group(WorkGroup="nope")
    with pytest.raises(athena.exceptions.InvalidRequestException):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="nope", ResultConfiguration=OUTPUT)


def test_a_query_runs_to_success_and_pages_results_through_boto3(athena: Any) -> None:
    token = "c" * 36
    execution_id = athena.start_query_execution(
        QueryString="SELECT range AS n, 'v' || range AS label FROM range(5)",
        ClientRequestToken=token,
        ResultConfiguration=OUTPUT,
    )["QueryExecutionId"]
    again = athena.start_query_execution(
        QueryString="SELECT 2", ClientRequestToken=token, ResultConfiguration=OUTPUT
    )
    assert again["QueryExecutionId"] == execution_id
    execution = _wait_for(athena, execution_id)
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["Status"]["CompletionDateTime"] >= execution["Status"]["SubmissionDateTime"]
    pages = list(
        athena.get_paginator("get_query_results").paginate(
            QueryExecutionId=execution_id, PaginationConfig={"PageSize": 2}
        )
    )
    rows = [[c.get("VarCharValue") for c in r["Data"]] for p in pages for r in p["ResultSet"]["Rows"]]
    assert rows == [["n", "label"], ["0", "v0"], ["1", "v1"], ["2", "v2"], ["3", "v3"], ["4", "v4"]]
    assert len(pages) == 3
    batch = athena.batch_get_query_execution(QueryExecutionIds=[execution_id, "missing"])
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "missing"
    stats = athena.get_query_runtime_statistics(QueryExecutionId=execution_id)["QueryRuntimeStatistics"]
    assert stats["Rows"]["OutputRows"] == 5


def test_parallel_starts_through_http_never_exceed_the_quota(server: EmulatorServer, athena: Any) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def one_start() -> None:
        barrier.wait()
        try:
            athena.start_query_execution(
                QueryString="SELECT 1 /* fairshare:duration=30 */", ResultConfiguration=OUTPUT
            )
            outcome = "started"
        except athena.exceptions.TooManyRequestsException:
            outcome = "throttled"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one_start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (outcomes.count("started"), outcomes.count("throttled")) == (4, 12)
    status, state = _admin(server, "GET", "state")
    assert status == 200
    assert state["active"] == {"DML": 4, "DDL": 0}
    # every refused start is counted, botocore's own retries of the throttle included
    assert state["throttled"]["DML"] >= 12 and state["throttled"]["DDL"] == 0, state["throttled"]
    assert state["regions"] == [
        {
            "account_id": "111122223333",
            "region": "eu-west-1",
            "active": {"DML": 4, "DDL": 0},
            "throttled": state["throttled"],
        }
    ]


def test_admin_config_changes_the_quota_at_runtime(server: EmulatorServer, athena: Any) -> None:
    status, config = _admin(server, "POST", "config", {"ddl_quota": 2, "events_enabled": False})
    assert status == 200 and config["ddl_quota"] == 2 and config["events_enabled"] is False
    athena.start_query_execution(
        QueryString="DROP TABLE a /* fairshare:duration=30 */", ResultConfiguration=OUTPUT
    )
    athena.start_query_execution(
        QueryString="DROP TABLE b /* fairshare:duration=30 */", ResultConfiguration=OUTPUT
    )
    with pytest.raises(athena.exceptions.TooManyRequestsException):
        athena.start_query_execution(QueryString="DROP TABLE c", ResultConfiguration=OUTPUT)
    assert _admin(server, "POST", "config", {"nope": 1})[0] == 400
    assert _admin(server, "POST", "config", {"dml_quota": -1})[0] == 400
    status, catalog = _admin(
        server, "POST", "catalog", {"db.t": {"format": "csv", "location": "s3://data/t/"}}
    )
    assert status == 200 and catalog["db.t"]["format"] == "csv"
    assert _admin(server, "POST", "reset")[1]["active"] == {"DML": 0, "DDL": 0}


def test_stop_through_boto3_cancels(athena: Any) -> None:
    execution_id = athena.start_query_execution(
        QueryString="SELECT 1 /* fairshare:duration=30 */", ResultConfiguration=OUTPUT
    )["QueryExecutionId"]
    athena.stop_query_execution(QueryExecutionId=execution_id)
    assert _wait_for(athena, execution_id)["Status"]["State"] == "CANCELLED"
    listed = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    assert listed == [execution_id]


def test_account_and_region_come_from_the_signature() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=111122223333/20261122/eu-west-1/athena/aws4_request, SignedHeaders=host"
    )
    assert account_and_region(header) == ("111122223333", "eu-west-1")
    assert account_and_region(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-west-2/athena/aws4_request"
    ) == (
        "000000000000",
        "us-west-2",
    )
    assert account_and_region(None) == ("000000000000", "us-east-1")


def test_events_are_delivered_in_order_by_the_background_publisher(
    athena: Any, events: RecordingEvents
) -> None:
    execution_ids = [
        athena.start_query_execution(QueryString=f"SELECT {i}", ResultConfiguration=OUTPUT)[
            "QueryExecutionId"
        ]
        for i in range(3)
    ]
    for execution_id in execution_ids:
        assert _wait_for(athena, execution_id)["Status"]["State"] == "SUCCEEDED"
    deadline = time.monotonic() + 5
    while len(events.entries) < 9 and time.monotonic() < deadline:
        time.sleep(0.02)
    for execution_id in execution_ids:
        details = [json.loads(str(e["Detail"])) for e in events.entries]
        mine = [d for d in details if d["queryExecutionId"] == execution_id]
        assert [d["currentState"] for d in mine] == ["QUEUED", "RUNNING", "SUCCEEDED"]
        assert [d["sequenceNumber"] for d in mine] == ["1", "2", "3"]
