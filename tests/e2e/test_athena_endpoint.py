"""Athena's own client through the platform's Athena endpoint (POST /athena on the tenant API), beside the
same client code straight at the Athena emulator: same rows, same final states, and under a burst the
platform's quota and shares still hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from fairshare_tools.client import Client
from fairshare_tools.tooling.localplatform import LOCALSTACK_ENDPOINT
from fairshare_tools.tooling.stage import LOCALSTACK_CREDENTIALS, StageAccess, merge_athena_profiles

from .conftest import hint

RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16)
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def _straight() -> Any:
    """An Athena client at the emulator, as a program that calls Athena itself has it."""
    return boto3.client(
        "athena",
        endpoint_url=LOCALSTACK_ENDPOINT,
        region_name="us-east-1",
        config=RETRIES,
        **LOCALSTACK_CREDENTIALS,
    )


def _through(stage: StageAccess, tenant: str, tmp_path: Path) -> Any:
    """The same client through the platform: only the AWS profile differs (as `deploy.py output
    --write-profiles` writes it)."""
    config = tmp_path / "aws-config"
    merge_athena_profiles(config, stage)
    session = boto3.session.Session(profile_name=f"local-{tenant}")
    return session.client("athena", config=RETRIES)


@pytest.fixture
def aws_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return tmp_path


# --- the client code under test: plain boto3, as tenants already have it ------------------------------
def run_query(
    athena: Any, sql: str, workgroup: str, timeout_s: float = 120
) -> tuple[str, list[list[str | None]]]:
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "default"}, WorkGroup=workgroup
    )["QueryExecutionId"]
    state = wait(athena, query_id, timeout_s)
    if state != "SUCCEEDED":
        return state, []
    rows = [
        [cell.get("VarCharValue") for cell in row["Data"]]
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
        for row in page["ResultSet"]["Rows"]
    ]
    return state, rows


def wait(athena: Any, query_id: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state = str(
            athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        )
        if state in TERMINAL:
            return state
        assert time.monotonic() < deadline, f"{query_id} still {state} after {timeout_s}s"
        time.sleep(0.25)


# --- tests ------------------------------------------------------------------------------------------
def test_the_same_athena_client_code_gets_the_same_rows_and_states_through_the_platform(
    stage: StageAccess, output_value: Callable[[str], Any], aws_profiles: Path
) -> None:
    workgroup = output_value("workgroup_names")["analytics"]
    straight, through = _straight(), _through(stage, "analytics", aws_profiles)
    queries = [
        "SELECT vendor, count(*) AS trips, round(sum(fare), 2) AS revenue FROM trips "
        "GROUP BY vendor ORDER BY vendor",
        "SELECT trip_id, passengers FROM trips WHERE trip_id <= 3 ORDER BY trip_id",
        "SELECT * FROM no_such_table",
    ]
    for sql in queries:
        assert run_query(through, sql, workgroup) == run_query(straight, sql, workgroup), sql
    state, rows = run_query(through, queries[0], workgroup)
    assert state == "SUCCEEDED" and rows[0] == ["vendor", "trips", "revenue"] and len(rows) == 5


def test_a_stopped_query_ends_cancelled_straight_and_through_the_platform(
    stage: StageAccess, output_value: Callable[[str], Any], aws_profiles: Path
) -> None:
    workgroup = output_value("workgroup_names")["finance"]
    finals = []
    for athena in (_straight(), _through(stage, "finance", aws_profiles)):
        query_id = athena.start_query_execution(QueryString=hint(30.0), WorkGroup=workgroup)[
            "QueryExecutionId"
        ]
        time.sleep(1.0)
        athena.stop_query_execution(QueryExecutionId=query_id)
        finals.append(wait(athena, query_id, 60))
    assert finals == ["CANCELLED", "CANCELLED"]


def test_through_api_gateway_a_wrong_secret_and_another_tenants_id_are_refused_as_athena_refuses(
    stage: StageAccess, output_value: Callable[[str], Any], aws_profiles: Path
) -> None:
    finance = _through(stage, "finance", aws_profiles)
    query_id = finance.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    analytics = _through(stage, "analytics", aws_profiles)
    forged = boto3.client(
        "athena",
        endpoint_url=stage.athena_endpoint,
        region_name=stage.region or "us-east-1",
        aws_access_key_id=stage.api_key_ids["analytics"],
        aws_secret_access_key="not-the-key-value",
        config=BotoConfig(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as foreign:
        analytics.get_query_execution(QueryExecutionId=query_id)
    with pytest.raises(ClientError) as mis_signed:
        forged.list_work_groups()

    assert foreign.value.response["Error"]["Code"] == "InvalidRequestException"
    assert mis_signed.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert mis_signed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert wait(finance, query_id, 60) == "SUCCEEDED"


PER_TENANT = 60
QUOTA = 20


def test_a_burst_of_athena_clients_from_three_tenants_stays_under_the_quota_with_shares_by_weight(
    stage: StageAccess,
    clients: dict[str, Client],
    emulator: Callable[..., Any],
    output_value: Callable[[str], Any],
    aws_profiles: Path,
) -> None:
    tenants = ["analytics", "marketing", "finance"]
    weights = {"analytics": 3, "marketing": 2, "finance": 1}
    workgroups = output_value("workgroup_names")
    athena = {t: _through(stage, t, aws_profiles) for t in tenants}
    samples: list[dict[str, Any]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            state = emulator("state")
            samples.append(
                {"active": state["active"]["DML"], "usage": {t: clients[t].usage() for t in tenants}}
            )
            stop.wait(0.2)

    def start(tenant: str) -> str:
        return str(
            athena[tenant].start_query_execution(QueryString=hint(4.0), WorkGroup=workgroups[tenant])[
                "QueryExecutionId"
            ]
        )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # the three tenants' submissions interleaved, so that all three are backlogged at once
        order = [t for _ in range(PER_TENANT) for t in tenants]
        with ThreadPoolExecutor(max_workers=12) as pool:
            ids = list(pool.map(start, order))
        submitted = {t: [q for q, owner in zip(ids, order, strict=True) if owner == t] for t in tenants}
        finals = {t: [wait(athena[t], q, 420) for q in submitted[t]] for t in tenants}
    finally:
        stop.set()
        sampler.join(timeout=30)

    assert all(state == "SUCCEEDED" for per in finals.values() for state in per), finals
    max_active = max(s["active"] for s in samples)
    assert max_active <= QUOTA, f"Athena saw {max_active} active queries against a quota of {QUOTA}"
    contended = [s for s in samples if all(s["usage"][t].queued > 0 for t in tenants)]
    assert len(contended) >= 5, f"only {len(contended)} samples with all three tenants backlogged"
    totals = {t: sum(s["usage"][t].running for s in contended) for t in tenants}
    shares = {t: totals[t] / sum(totals.values()) for t in tenants}
    for t in tenants:
        expected = weights[t] / sum(weights.values())
        assert abs(shares[t] - expected) <= 0.08, (
            f"{t}: share {shares[t]:.3f}, expected {expected:.3f}: {shares}"
        )
    rounded = {t: round(v, 3) for t, v in shares.items()}
    print(f"\n[e2e athena] max active {max_active}/{QUOTA}, shares {rounded}, "
          f"{len(contended)} contended samples of {len(samples)}")  # fmt: skip
