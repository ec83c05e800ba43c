"""Metrics go out as CloudWatch EMF in the AthenaFairshare namespace with the stage dimension."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import Metrics
from fairshare.adapters.metrics import EmfMetrics


def _documents(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_stage_metrics_batch_and_tenant_metrics_carry_the_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    powertools = Metrics(namespace="AthenaFairshare", service="test")
    metrics = EmfMetrics(powertools, stage="dev", namespace="AthenaFairshare")

    metrics.emit("StartQueryCount", 1, tenant="alpha")
    metrics.emit("AStageOnlyGauge", 12.5, "Seconds")
    powertools.flush_metrics()
    documents = _documents(capsys.readouterr().out)

    by_metric = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}  # type: ignore[index]
    tenant_doc = by_metric["StartQueryCount"]
    stage_doc = by_metric["AStageOnlyGauge"]
    assert (tenant_doc["stage"], tenant_doc["tenant"], tenant_doc["StartQueryCount"]) == (
        "dev",
        "alpha",
        [1.0],
    )
    assert tenant_doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AthenaFairshare"  # type: ignore[index]
    assert (stage_doc["stage"], stage_doc["AStageOnlyGauge"]) == ("dev", [12.5])
    assert "tenant" not in stage_doc
