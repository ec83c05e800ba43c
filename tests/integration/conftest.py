"""Integration fixtures: moto for DynamoDB, SQS, S3 and SNS (schema as in docs/CONTRACTS.md), the
in-memory Athena fake, a manual clock, and API Gateway proxy events."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from fairshare import wiring
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.adapters.s3 import S3ResultStore
from fairshare.adapters.sns import SnsNotifier
from fairshare.adapters.sqs import SqsWakeups
from fairshare.adapters.usage import CloudWatchUsage
from fairshare.config import Config, parse_config
from fairshare.services.deps import Deps
from fairshare_tools.testing.fakes import FakeAthena, FakeClock, RecordingMetrics, Shared
from moto import mock_aws

REGION = "us-east-1"
BUCKET = "fairshare-results"


def _gsi(name: str, hash_key: str, range_key: str | None = None) -> dict[str, Any]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}


def create_tables(ddb: Any) -> None:
    ddb.create_table(
        TableName="queries",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "query_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in [
                ("query_id", "S"),
                ("queue_tenant", "S"),
                ("queue_key", "S"),
                ("tenant", "S"),
                ("submitted_at", "N"),
                ("active_pool", "S"),
                ("admitted_at", "N"),
                ("athena_execution_id", "S"),
            ]
        ],
        GlobalSecondaryIndexes=[
            _gsi("queued_heads", "queue_tenant", "queue_key"),
            _gsi("tenant_time", "tenant", "submitted_at"),
            _gsi("active", "active_pool", "admitted_at"),
            _gsi("execution", "athena_execution_id"),
        ],
    )
    ddb.create_table(
        TableName="state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )


def config_document(queues: dict[str, str], topic_arn: str) -> dict[str, Any]:
    tenant = {"max_aging_boost": 1, "databases": ["default", "sales"]}
    return {
        "stage": "test",
        "region": REGION,
        "queries_table": "queries",
        "state_table": "state",
        "submissions_queue_url": queues["submissions"],
        "submissions_dlq_url": queues["submissions-dlq"],
        "events_queue_url": queues["athena-events"],
        "events_dlq_url": queues["athena-events-dlq"],
        "results_bucket": BUCKET,
        "results_prefix": "results/",
        "pools": {
            "DML": {"quota": 12, "headroom": 2, "decrease_factor": 0.5, "recovery_interval_s": 10},
            "DDL": {"quota": 4, "headroom": 1},
        },
        "tenants": {
            "alpha": {
                **tenant,
                "weight": 2,
                "max_concurrency": 4,
                "max_queued": 6,
                "workgroup": "fs-test-alpha",
                "api_key_id": "key-alpha",
                "notify_topic_arn": topic_arn,
                "principals": [
                    "arn:aws:iam::123456789012:user/alpha-*",
                    "arn:aws:sts::123456789012:assumed-role/alpha-analyst/*",
                ],
            },
            "beta": {
                **tenant,
                "weight": 1,
                "max_concurrency": 3,
                "workgroup": "fs-test-beta",
                "api_key_id": "key-beta",
                "databases": ["default", "sales", "beta_private"],
                "principals": ["arn:aws:iam::123456789012:role/shared-*"],
            },
            "gamma": {
                **tenant,
                "allow_ddl": True,
                "daily_bytes_budget": 1000,
                "budget_action": "reject",
                "workgroup": "fs-test-gamma",
                "api_key_id": "key-gamma",
                "principals": ["arn:aws:iam::123456789012:role/shared-*"],
            },
            "epsilon": {
                **tenant,
                "aging_seconds": 60,
                "max_aging_boost": 2,
                "max_concurrency": 1,
                "workgroup": "fs-test-epsilon",
                "api_key_id": "key-epsilon",
            },
            "delta": {
                **tenant,
                "daily_bytes_budget": 1000,
                "budget_action": "hold",
                "workgroup": "fs-test-delta",
                "api_key_id": "key-delta",
            },
        },
        "start_rate_per_s": 20,
        "start_burst": 80,
        "event_grace_s": 120,
        "max_transient_attempts": 3,
        "redrive_max_per_run": 20,
        "redrive_rate_per_s": 50,
    }


@dataclass
class Platform:
    deps: Deps
    config: Config
    athena: FakeAthena
    clock: FakeClock
    metrics: RecordingMetrics
    ddb: Any
    sqs: Any
    s3: Any
    sns: Any
    queues: dict[str, str]
    topic_arn: str
    notifications_queue: str

    @property
    def ledger(self) -> DynamoLedger:
        return self.deps.ledger  # type: ignore[return-value]

    def query_items(self) -> list[dict[str, Any]]:
        return self.ddb.scan(TableName="queries", ConsistentRead=True)["Items"]  # type: ignore[no-any-return]

    def state(self, pk: str) -> dict[str, float]:
        """The numeric attributes of a `state` item (counters, limits)."""
        reply = self.ddb.get_item(TableName="state", Key={"pk": {"S": pk}}, ConsistentRead=True)
        numbers = {k: float(v["N"]) for k, v in reply.get("Item", {}).items() if "N" in v}
        return {k: int(v) if v.is_integer() else v for k, v in numbers.items()}

    def queue_depth(self, name: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def drain(self, name: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.queues[name], MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queues[name], ReceiptHandle=message["ReceiptHandle"])


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_METRICS_NAMESPACE": "AthenaFairshare",
    "POWERTOOLS_SERVICE_NAME": "athena-fairshare-test",
}


@contextmanager
def build_platform() -> Iterator[Platform]:
    """moto with the stage's tables, queues, bucket and topic; the handlers wired to it."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_ATHENA"):
            env.delenv(name, raising=False)
        with mock_aws():
            yield _platform()


def _platform() -> Platform:
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    create_tables(ddb)
    queues = {
        name: sqs.create_queue(QueueName=f"fs-test-{name}")["QueueUrl"]
        for name in ("submissions", "submissions-dlq", "athena-events", "athena-events-dlq")
    }
    s3.create_bucket(Bucket=BUCKET)
    topic_arn = sns.create_topic(Name="fs-test-alpha-notify")["TopicArn"]
    notifications = sqs.create_queue(QueueName="fs-test-notifications")["QueueUrl"]
    notifications_arn = sqs.get_queue_attributes(QueueUrl=notifications, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=notifications_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    config = parse_config(config_document(queues, topic_arn))
    athena = FakeAthena(
        outputs={t.workgroup: f"s3://{BUCKET}/results/{name}/" for name, t in config.tenants.items()}
    )
    clock = FakeClock()
    metrics = RecordingMetrics()
    deps = Deps(
        config=config,
        ledger=DynamoLedger(SerializedCalls(ddb), "queries", "state"),
        athena=athena,
        clock=clock,
        metrics=metrics,
        notifier=SnsNotifier(sns),
        wakeups=SqsWakeups(sqs, queues["submissions"], queues["submissions-dlq"]),
        results=Shared(S3ResultStore(s3)),
        usage=CloudWatchUsage(cloudwatch),
        rng=random.Random(7),
    )
    return Platform(deps, config, athena, clock, metrics, ddb, sqs, s3, sns, queues, topic_arn, notifications)


@contextmanager
def wired(platform: Platform) -> Iterator[Platform]:
    wiring.use(platform.deps)
    try:
        yield platform
    finally:
        wiring.use(None)
        wiring.use_transport(None)


@pytest.fixture(scope="module")
def _moto_stage() -> Iterator[Platform]:
    """The AWS side is built once per module; each test then starts from empty tables and queues."""
    with build_platform() as built:
        yield built


def reset(built: Platform) -> Platform:
    """Empty the tables and queues and hand out fresh fakes, so tests share nothing but moto."""
    for table, key in (("queries", "query_id"), ("state", "pk")):
        for item in built.ddb.scan(TableName=table, ProjectionExpression=key, ConsistentRead=True)["Items"]:
            built.ddb.delete_item(TableName=table, Key={key: item[key]})
    for url in [*built.queues.values(), built.notifications_queue]:
        # PurgeQueue allows one call a minute; a deleted queue comes back under the same URL at once
        built.sqs.delete_queue(QueueUrl=url)
        built.sqs.create_queue(QueueName=url.rsplit("/", 1)[-1])
    athena = FakeAthena(outputs=dict(built.athena.outputs))
    clock, metrics = FakeClock(), RecordingMetrics()
    deps = Deps(
        config=built.config,
        ledger=built.deps.ledger,
        athena=athena,
        clock=clock,
        metrics=metrics,
        notifier=built.deps.notifier,
        wakeups=built.deps.wakeups,
        results=built.deps.results,
        usage=built.deps.usage,
        rng=random.Random(7),
    )
    return dataclasses.replace(built, deps=deps, athena=athena, clock=clock, metrics=metrics)


@pytest.fixture(scope="module")
def shared_platform(_moto_stage: Platform) -> Iterator[Platform]:
    """One platform for a whole module of cases that must write nothing (the bad-input matrix);
    each case compares what exists before and after it."""
    with wired(reset(_moto_stage)) as fresh:
        yield fresh


@pytest.fixture
def platform(_moto_stage: Platform) -> Iterator[Platform]:
    with wired(reset(_moto_stage)) as fresh:
        yield fresh


class SerializedCalls:
    """Each call to the wrapped boto3 client runs alone, as each DynamoDB request is atomic on AWS.

    moto applies a transaction's items one by one without a lock, so threads could observe half a
    transaction there; real DynamoDB never lets them. Rounds still interleave between calls.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def serialized(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return serialized


class FakeContext:
    function_name = "fairshare-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fairshare-test"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = "key-alpha",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | bytes | None = None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """An API Gateway REST v1 proxy event, as API Gateway sends it to the api Lambda."""
    all_headers = {"Host": "api.example.com"}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    all_headers.update(headers or {})
    encoded = False
    text: str | None
    if isinstance(raw_body, bytes):
        text, encoded = base64.b64encode(raw_body).decode(), True
    elif raw_body is not None:
        text = raw_body
    else:
        text = None if body is None else json.dumps(body)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": "test",
            "requestId": "req-1",
            "httpMethod": method,
            "path": f"/test{path}",
            "resourcePath": path,
            "identity": {"apiKeyId": key, "apiKey": "secret" if key else None, "sourceIp": "10.0.0.1"},
            "apiId": "api123",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def iam_event(
    method: str, path: str, body: Any = None, *, user_arn: str | None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The same event on an /iam route (AWS_IAM authorization): no API key; API Gateway verified the
    SigV4 signature and names the caller."""
    event = api_event(method, f"/iam{path}", body, key=None, headers=headers)
    event["resource"] = event["requestContext"]["resourcePath"] = "/iam/{proxy+}"
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    identity = event["requestContext"]["identity"]
    identity.update({"userArn": user_arn, "user": user_arn and "AIDAEXAMPLE", "accessKey": "AKIAEXAMPLE"})
    return event


def call_api(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from fairshare.handlers import api

    reply = api.handler(event, FakeContext())  # type: ignore[arg-type]
    body = json.loads(reply["body"]) if reply.get("body") else {}
    return int(reply["statusCode"]), body


def submit(
    sql: str = "SELECT 1",
    *,
    key: str = "key-alpha",
    token: str | None = None,
    priority: int | None = None,
    database: str = "default",
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"sql": sql, "database": database}
    if token is not None:
        body["client_token"] = token
    if priority is not None:
        body["priority"] = priority
    return call_api(api_event("POST", "/queries", body, key=key))


def pytest_configure(config: pytest.Config) -> None:
    # log_metrics warns when a handler emitted nothing to the Powertools object (tests use fakes)
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


def sqs_event(bodies: list[Any], source_queue: str = "fs-test-submissions") -> dict[str, Any]:
    """An SQS event-source-mapping batch."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"rh-{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1800000000000",
                    "SenderId": "AIDA",
                    "ApproximateFirstReceiveTimestamp": "1800000000000",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{source_queue}",
                "awsRegion": REGION,
            }
            for index, body in enumerate(bodies)
        ]
    }


def athena_event(execution_id: str, state: str, workgroup: str) -> dict[str, Any]:
    """Athena's `Query State Change` event as EventBridge delivers it into the events queue."""
    return {
        "version": "0",
        "id": f"evt-{execution_id}-{state}",
        "detail-type": "Athena Query State Change",
        "source": "aws.athena",
        "account": "123456789012",
        "time": "2027-01-15T08:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "currentState": state,
            "previousState": "RUNNING",
            "queryExecutionId": execution_id,
            "sequenceNumber": "3",
            "statementType": "DML",
            "versionId": "0",
            "workgroupName": workgroup,
        },
    }


TICK = {
    "version": "0",
    "id": "tick-1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2027-01-15T08:00:00Z",
    "region": REGION,
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/fs-test-tick"],
    "detail": {},
}


def dispatch(bodies: list[Any] | None = None) -> dict[str, Any]:
    from fairshare.handlers import dispatcher

    event = sqs_event(bodies or [{"reason": "submit", "query_id": None}])
    return dispatcher.handler(event, FakeContext())  # type: ignore[arg-type]


def tick() -> dict[str, Any]:
    from fairshare.handlers import dispatcher

    return dispatcher.handler(dict(TICK), FakeContext())  # type: ignore[arg-type]


def complete(*events: dict[str, Any]) -> dict[str, Any]:
    from fairshare.handlers import completion

    return completion.handler(sqs_event(list(events), "fs-test-athena-events"), FakeContext())  # type: ignore[arg-type]
