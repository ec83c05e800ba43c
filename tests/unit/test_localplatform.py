from __future__ import annotations

import pytest
from fairshare_tools.tooling.localplatform import aws_client, trips_csv


def test_the_sample_table_is_deterministic() -> None:
    first = trips_csv(rows=50)
    assert first == trips_csv(rows=50)
    assert first.splitlines()[0] == b"trip_id,vendor,passengers,distance_km,fare"
    assert len(first.splitlines()) == 51


def test_local_clients_reach_every_service_at_the_gateway_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # localstack-client would prefer it
    for service in ("sqs", "dynamodb", "athena", "cloudwatch", "lambda", "events"):
        client = aws_client(service, "http://127.0.0.1:4599")
        assert client.meta.endpoint_url == "http://127.0.0.1:4599", service
        assert client.meta.region_name == "us-east-1"
