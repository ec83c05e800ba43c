"""The host Lambda executor inside a real LocalStack: invoke, errors, timeouts, logs, SQS, DynamoDB Local."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from ls_harness import ROOT, FunctionFactory, Instance

pytestmark = pytest.mark.localstack

BOTO3_PIN = next(
    line.split("==")[1].strip()
    for line in (ROOT / "localstack" / "requirements-lambda.txt").read_text().splitlines()
    if line.startswith("boto3==")
)

ECHO = """
import os, sys, time
import boto3

INIT_PID = os.getpid()
print("init of", os.environ["AWS_LAMBDA_FUNCTION_NAME"])


def handler(event, context):
    print("handling", event.get("tag"))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError(event["fail"])
    return {
        "event": event,
        "python": "%d.%d" % sys.version_info[:2],
        "boto3": boto3.__version__,
        "code_first_on_path": sys.path.index(os.environ["LAMBDA_TASK_ROOT"]) == 0,
        "pid": INIT_PID,
        "greeting": os.environ.get("GREETING"),
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
"""


def invoke(
    localstack: Instance, name: str, event: dict[str, Any]
) -> tuple[dict[str, Any], str | None, float]:
    started = time.perf_counter()
    response = localstack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read())
    return body, response.get("FunctionError"), time.perf_counter() - started


@pytest.fixture(scope="module")
def echo(make_function: FunctionFactory) -> str:
    return make_function({"app.py": ECHO}, timeout=2, environment={"GREETING": "hello"})


def test_sync_invoke_runs_the_handler_on_python_312_with_boto3_and_the_lambda_environment(
    localstack: Instance, echo: str
) -> None:
    body, error, cold_s = invoke(localstack, echo, {"tag": "first"})
    assert error is None, body
    assert body["event"] == {"tag": "first"}
    assert body["python"] == "3.12"
    assert body["boto3"] == BOTO3_PIN, (
        "boto3 should come from the runtime's venv (localstack/requirements-lambda.txt)"
    )
    assert body["code_first_on_path"] is True
    assert body["greeting"] == "hello"
    assert body["function_name"] == echo
    assert body["memory"] == 256
    assert body["arn"].endswith(f":function:{echo}")
    assert 0 < body["remaining_ms"] <= 2000
    assert body["endpoint"] == localstack.endpoint
    print(f"\n[measure] first (cold) invoke {cold_s * 1000:.0f} ms")


def test_a_python_313_function_runs_on_python_313(
    localstack: Instance, make_function: FunctionFactory
) -> None:
    name = make_function({"app.py": ECHO}, runtime="python3.13")
    body, error, _ = invoke(localstack, name, {"tag": "313"})
    assert error is None, body
    assert body["python"] == "3.13"
    assert body["code_first_on_path"] is True


def test_a_boto3_bundled_in_the_zip_wins_over_the_runtime_one(
    localstack: Instance, make_function: FunctionFactory
) -> None:
    name = make_function({"app.py": ECHO, "boto3/__init__.py": "__version__ = 'bundled'\n"})
    body, error, _ = invoke(localstack, name, {})
    assert error is None, body
    assert body["boto3"] == "bundled"


def test_warm_invokes_reuse_the_execution_environment(localstack: Instance, echo: str) -> None:
    first, _, _ = invoke(localstack, echo, {"tag": "warm-0"})
    latencies = []
    for index in range(1, 11):
        body, error, elapsed = invoke(localstack, echo, {"tag": f"warm-{index}"})
        assert error is None, body
        assert body["pid"] == first["pid"], "a warm invoke started a new process"
        latencies.append(elapsed * 1000)
    latencies.sort()
    print(f"\n[measure] warm invoke median {latencies[5]:.0f} ms, max {latencies[-1]:.0f} ms")


def test_concurrent_invokes_get_separate_environments(
    localstack: Instance, make_function: FunctionFactory
) -> None:
    echo = make_function({"app.py": ECHO})
    with ThreadPoolExecutor(max_workers=3) as pool:
        bodies = list(pool.map(lambda index: invoke(localstack, echo, {"sleep": 1, "tag": index}), range(3)))
    assert [error for _, error, _ in bodies] == [None, None, None], bodies
    assert len({body["pid"] for body, _, _ in bodies}) == 3


def test_an_async_invoke_runs_the_handler(localstack: Instance, make_function: FunctionFactory) -> None:
    sqs = localstack.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"async-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    source = (
        "import json, os, boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('sqs').send_message(QueueUrl=os.environ['OUT'], MessageBody=json.dumps(event))\n"
    )
    name = make_function({"app.py": source}, environment={"OUT": queue_url})
    response = localstack.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": "async-1"}).encode()
    )
    assert response["StatusCode"] == 202
    assert _receive_one(sqs, queue_url, timeout_s=30) == {"id": "async-1"}


def test_a_handler_exception_is_an_unhandled_function_error(localstack: Instance, echo: str) -> None:
    body, error, _ = invoke(localstack, echo, {"fail": "no such table"})
    assert error == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "no such table"
    assert any("app.py" in frame for frame in body["stackTrace"])


def test_a_timeout_ends_the_invocation_and_the_next_invoke_gets_a_fresh_environment(
    localstack: Instance, make_function: FunctionFactory
) -> None:
    echo = make_function({"app.py": ECHO}, timeout=2)
    before, _, _ = invoke(localstack, echo, {"tag": "before"})
    body, error, elapsed = invoke(localstack, echo, {"sleep": 30})
    assert error == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in body["errorMessage"]
    assert 2.0 <= elapsed < 6.0, f"timeout answered after {elapsed:.1f} s"
    after, error, _ = invoke(localstack, echo, {"tag": "after"})
    assert error is None, after
    assert after["pid"] != before["pid"]


def test_function_output_reaches_cloudwatch_logs(localstack: Instance, echo: str) -> None:
    tag = uuid.uuid4().hex
    body, _, _ = invoke(localstack, echo, {"tag": tag})
    logs = localstack.client("logs")
    deadline = time.monotonic() + 30
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{echo}")["events"]
        messages = [event["message"] for event in events]
        if any(f"handling {tag}" in message for message in messages):
            break
        time.sleep(0.5)
    assert any(f"handling {tag}" in message for message in messages), messages[-20:]
    assert any(message.startswith(f"START RequestId: {body['request_id']}") for message in messages)
    assert any(message.startswith(f"REPORT RequestId: {body['request_id']}") for message in messages)


BATCH = """
import json, os, time
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        sqs.send_message(
            QueueUrl=os.environ["SEEN_QUEUE_URL"],
            MessageBody=json.dumps({"id": body["id"], "sent_at": body["sent_at"], "handled_at": time.time()}),
        )
    return {"batchItemFailures": failures}
"""


def _receive_one(sqs: Any, queue_url: str, timeout_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=1).get(
            "Messages", []
        )
        if messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            document: dict[str, Any] = json.loads(messages[0]["Body"])
            return document
    return None


def test_sqs_event_source_mapping_delivers_and_a_reported_failure_ends_in_the_dlq(
    localstack: Instance, make_function: FunctionFactory
) -> None:
    sqs = localstack.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"work-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    work_url = sqs.create_queue(
        QueueName=f"work-{suffix}",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}),
        },
    )["QueueUrl"]
    work_arn = sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    seen_url = sqs.create_queue(QueueName=f"seen-{suffix}")["QueueUrl"]
    name = make_function({"app.py": BATCH}, timeout=10, environment={"SEEN_QUEUE_URL": seen_url})
    lambda_client = localstack.client("lambda")
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=work_arn,
        FunctionName=name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    deadline = time.monotonic() + 30
    while lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Enabled":
        assert time.monotonic() < deadline, "event source mapping never became Enabled"
        time.sleep(0.5)

    sqs.send_message(QueueUrl=work_url, MessageBody=json.dumps({"id": "good", "sent_at": time.time()}))
    seen = _receive_one(sqs, seen_url, timeout_s=30)
    assert seen is not None and seen["id"] == "good", "the good message was not handled"
    delivery_ms = (seen["handled_at"] - seen["sent_at"]) * 1000

    sqs.send_message(
        QueueUrl=work_url, MessageBody=json.dumps({"id": "bad", "fail": True, "sent_at": time.time()})
    )
    dead = _receive_one(sqs, dlq_url, timeout_s=60)
    assert dead is not None and dead["id"] == "bad", "the failed message did not reach the DLQ"
    assert _receive_one(sqs, seen_url, timeout_s=1) is None, "the failed message was reported as handled"
    lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])
    print(f"\n[measure] SQS -> Lambda delivery {delivery_ms:.0f} ms")


def test_dynamodb_local_runs_offline_with_transactions(localstack: Instance) -> None:
    ddb = localstack.client("dynamodb")
    table = f"ledger-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    first_call_s = time.perf_counter() - started
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "pool#DML"}, "active": {"N": "0"}, "limit_value": {"N": "1"}}
    )
    admit = {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "pool#DML"}},
            "UpdateExpression": "SET active = active + :one",
            "ConditionExpression": "active < limit_value",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    query = {"Put": {"TableName": table, "Item": {"pk": {"S": "query#1"}, "status": {"S": "ADMITTED"}}}}
    ddb.transact_write_items(TransactItems=[admit, query])
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[admit, {"Put": {"TableName": table, "Item": {"pk": {"S": "query#2"}}}}]
        )
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["ConditionalCheckFailed", "None"]
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "query#2"}}), "no rollback"
    pool = ddb.get_item(TableName=table, Key={"pk": {"S": "pool#DML"}})["Item"]
    assert pool["active"] == {"N": "1"}
    print(f"\n[measure] DynamoDB Local first call (JVM start) {first_call_s * 1000:.0f} ms")
