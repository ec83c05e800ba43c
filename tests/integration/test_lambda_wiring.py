"""Cold start without injected dependencies: the configuration from the environment and the real
boto3 adapters (moto behind them, its Athena included for a plain start)."""

from __future__ import annotations

import json

import boto3
import pytest
from fairshare import wiring
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.config import CONFIG_ENV

from tests.integration.conftest import REGION, Platform, api_event, call_api, dispatch


def test_handlers_build_their_dependencies_from_the_environment_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, json.dumps(platform.config.model_dump(mode="json")))
    wiring.use(None)
    boto3.client("athena", region_name=REGION).create_work_group(Name="fs-test-alpha")

    status, submitted = call_api(api_event("POST", "/queries", {"sql": "SELECT 1", "database": "default"}))
    built = wiring.deps()
    dispatch()

    assert status == 202
    assert isinstance(built.ledger, DynamoLedger)
    assert wiring.deps() is built  # loaded once per execution environment
    record = built.ledger.get(submitted["query_id"])
    assert record is not None and record.status == "RUNNING" and record.athena_execution_id
