"""The emulator as LocalStack's athena provider, on its own LocalStack at port 4577 (skipped without
`.venv-localstack` holding the emulator). S3 tables, EventBridge rules and CloudWatch are LocalStack's own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
STATE = ROOT / ".localstack" / "emulator-dev"
PORT = 4577
ENDPOINT = f"http://127.0.0.1:{PORT}"
REGION = "us-east-1"
ADMIN = f"{ENDPOINT}/_fairshare/athena"


def _skip_reason() -> str | None:
    if not VENV_PYTHON.exists():
        return ".venv-localstack does not exist (make localstack-venv)"
    probe = subprocess.run(
        [
            str(VENV_PYTHON),
            "-c",
            "import importlib.util as u; assert u.find_spec('fairshare_athena_emulator')",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return ".venv-localstack lacks the emulator (pip install -e localstack/athena_emulator)"
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", PORT)) == 0:
            return f"port {PORT} is already in use"
    return None


_SKIP_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_SKIP_REASON is not None, reason=_SKIP_REASON or "")


def _get_json(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def localstack() -> Iterator[str]:
    shutil.rmtree(STATE / "fs", ignore_errors=True)
    for folder in ("fs", "tmp"):
        (STATE / folder).mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "FAIRSHARE_"))},
        "GATEWAY_LISTEN": f"127.0.0.1:{PORT}",
        "LOCALSTACK_HOST": f"127.0.0.1:{PORT}",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(STATE / "fs"),
        "TMPDIR": str(STATE / "tmp"),
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "SQS_ENDPOINT_STRATEGY": "off",
        "PROVIDER_OVERRIDE_ATHENA": "fairshare",
        "FAIRSHARE_EMULATOR_QUEUE_SECONDS": "0.1",
        "FAIRSHARE_EMULATOR_RUN_SECONDS": "0.2-0.4",
        "FAIRSHARE_EMULATOR_USAGE_METRIC_INTERVAL_SECONDS": "1",
    }
    with (STATE / "localstack.log").open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "localstack.runtime.main"],
            env=env,
            cwd=STATE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get_json(f"{ENDPOINT}/_localstack/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"LocalStack did not start; see {STATE / 'localstack.log'}")
                time.sleep(0.5)
        yield ENDPOINT
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _client(service: str, **kwargs: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        **kwargs,
    )


@pytest.fixture
def athena(localstack: str) -> Iterator[Any]:
    _get_json(f"{ADMIN}/reset", "POST")
    _get_json(f"{ADMIN}/config", "POST", {"dml_quota": 20, "ddl_quota": 5, "events_enabled": True})
    yield _client("athena", config=Config(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.fixture
def s3(localstack: str) -> Any:
    return _client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"emu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _wait(athena: Any, execution_id: str, timeout: float = 15) -> dict[str, Any]:
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
        time.sleep(0.05)


def test_a_query_over_an_s3_table_returns_real_results_and_a_presignable_csv(
    athena: Any, s3: Any, bucket: str
) -> None:
    body = b"id,customer,amount\n1,ann,10.5\n2,bob,20\n3,ann,4.5\n"
    s3.put_object(Bucket=bucket, Key="sales/orders/p0.csv", Body=body)
    _get_json(
        f"{ADMIN}/catalog",
        "POST",
        {"sales.orders": {"format": "csv", "location": f"s3://{bucket}/sales/orders/"}},
    )
    execution_id = athena.start_query_execution(
        QueryString="SELECT customer, sum(amount) AS total FROM sales.orders "
        "GROUP BY customer ORDER BY customer",
        ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
    )["QueryExecutionId"]
    execution = _wait(athena, execution_id)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["Statistics"]["DataScannedInBytes"] == len(body)
    rows = athena.get_query_results(QueryExecutionId=execution_id)["ResultSet"]["Rows"]
    assert [[c.get("VarCharValue") for c in r["Data"]] for r in rows] == [
        ["customer", "total"],
        ["ann", "15.0"],
        ["bob", "20.0"],
    ]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"s3://{bucket}/results/{execution_id}.csv"
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": f"results/{execution_id}.csv"}
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b'"customer","total"\n"ann","15.0"\n"bob","20.0"\n'


def test_the_quota_throttles_with_too_many_requests_and_start_latency_is_low(
    athena: Any, bucket: str
) -> None:
    _get_json(f"{ADMIN}/config", "POST", {"dml_quota": 5})
    output = {"OutputLocation": f"s3://{bucket}/results/"}
    latencies = []
    ids = []
    for _ in range(5):
        started = time.perf_counter()
        ids.append(
            athena.start_query_execution(
                QueryString="SELECT 1 /* fairshare:duration=30 */", ResultConfiguration=output
            )["QueryExecutionId"]
        )
        latencies.append(time.perf_counter() - started)
    with pytest.raises(athena.exceptions.TooManyRequestsException) as raised:
        athena.start_query_execution(QueryString="SELECT 2", ResultConfiguration=output)
    assert raised.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _get_json(f"{ADMIN}/state")["active"]["DML"] == 5
    for execution_id in ids:
        athena.stop_query_execution(QueryExecutionId=execution_id)
    states = athena.batch_get_query_execution(QueryExecutionIds=ids)["QueryExecutions"]
    assert {e["Status"]["State"] for e in states} == {"CANCELLED"}
    median_ms = statistics.median(latencies) * 1000
    slowest_ms = max(latencies) * 1000
    print(f"StartQueryExecution through LocalStack: median {median_ms:.1f} ms, max {slowest_ms:.1f} ms")
    assert median_ms < 500


def test_state_change_events_reach_an_eventbridge_rule(athena: Any, bucket: str, localstack: str) -> None:
    sqs, events = _client("sqs"), _client("events")
    queue_url = sqs.create_queue(QueueName=f"athena-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"athena-state-{uuid.uuid4().hex[:8]}"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": ["aws.athena"], "detail-type": ["Athena Query State Change"]}),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    try:
        execution_id = athena.start_query_execution(
            QueryString="SELECT 1 /* fairshare:fail=HIVE_BAD_DATA */",
            ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
        )["QueryExecutionId"]
        assert _wait(athena, execution_id)["Status"]["State"] == "FAILED"
        details: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while len(details) < 3 and time.monotonic() < deadline:
            for message in sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                event = json.loads(message["Body"])
                if event["detail"]["queryExecutionId"] == execution_id:
                    assert event["source"] == "aws.athena"
                    details.append(event["detail"])
        states = sorted((int(d["sequenceNumber"]), d["currentState"]) for d in details)
        assert [s for _, s in states] == ["QUEUED", "RUNNING", "FAILED"]
        failed = next(d for d in details if d["currentState"] == "FAILED")
        assert failed["previousState"] == "RUNNING"
        assert failed["athenaError"]["errorMessage"] == "HIVE_BAD_DATA"
        assert failed["workgroupName"] == "primary"
    finally:
        events.remove_targets(Rule=rule, Ids=["q"])
        events.delete_rule(Name=rule)


def test_metrics_land_in_cloudwatch(athena: Any, bucket: str) -> None:
    cloudwatch = _client("cloudwatch")
    execution_id = athena.start_query_execution(
        QueryString="SELECT 1 /* fairshare:queue=1.2 duration=0.2 */",
        ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
    )["QueryExecutionId"]
    assert _wait(athena, execution_id)["Status"]["State"] == "SUCCEEDED"
    deadline = time.monotonic() + 10
    while True:
        athena_metrics = cloudwatch.list_metrics(Namespace="AWS/Athena", MetricName="TotalExecutionTime")[
            "Metrics"
        ]
        usage = cloudwatch.list_metrics(Namespace="AWS/Usage", MetricName="ResourceCount")["Metrics"]
        if (athena_metrics and usage) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"Name": "WorkGroup", "Value": "primary"} in athena_metrics[0]["Dimensions"]
    usage_dimensions = {d["Name"]: d["Value"] for d in usage[0]["Dimensions"]}
    assert usage_dimensions["Resource"] == "ActiveQueryCount" and usage_dimensions["Class"] == "DML"


TERRAFORM_WORKGROUP = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
variable "cutoff" {
  type = number
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {
    athena = "%(endpoint)s"
    iam    = "%(endpoint)s"
    s3     = "%(endpoint)s"
    sts    = "%(endpoint)s"
  }
}
resource "aws_athena_workgroup" "tenant" {
  name          = "tf-tenant"
  force_destroy = true
  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.cutoff
    engine_version {
      selected_engine_version = "AUTO"
    }
    result_configuration {
      output_location = "s3://results/tf-tenant/"
      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
  tags = { tenant = "t" }
}
"""


# About 2.5 minutes here (the AWS provider starts slowly on 2 cores), so it runs on request only.
@pytest.mark.skipif(
    os.environ.get("FAIRSHARE_EMULATOR_TERRAFORM_TEST") != "1"
    or shutil.which("terraform") is None
    or not (ROOT / ".build" / "terraformrc").exists(),
    reason="set FAIRSHARE_EMULATOR_TERRAFORM_TEST=1 (needs terraform and make tf-rc)",
)
def test_terraform_creates_updates_and_destroys_a_workgroup(athena: Any, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(TERRAFORM_WORKGROUP % {"endpoint": ENDPOINT})
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(ROOT / ".build" / "terraformrc"), "TF_IN_AUTOMATION": "1"}

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-input=false", "-no-color"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert terraform("init").returncode == 0
    applied = terraform("apply", "-auto-approve", "-var", "cutoff=10737418240")
    assert applied.returncode == 0, applied.stderr
    workgroup = athena.get_work_group(WorkGroup="tf-tenant")["WorkGroup"]
    assert workgroup["Configuration"]["BytesScannedCutoffPerQuery"] == 10737418240
    updated = terraform("apply", "-auto-approve", "-var", "cutoff=20000000")
    assert updated.returncode == 0, updated.stderr
    assert athena.get_work_group(WorkGroup="tf-tenant")["WorkGroup"]["Configuration"][
        "BytesScannedCutoffPerQuery"
    ] == (20000000)
    plan = terraform("plan", "-detailed-exitcode", "-var", "cutoff=20000000")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # no drift
    destroyed = terraform("destroy", "-auto-approve", "-var", "cutoff=20000000")
    assert destroyed.returncode == 0, destroyed.stderr
    with pytest.raises(athena.exceptions.InvalidRequestException):
        athena.get_work_group(WorkGroup="tf-tenant")
