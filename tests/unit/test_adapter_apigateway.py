"""The API key adapter (fairshare.adapters.apigateway) against botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from fairshare.adapters.apigateway import ApiGatewayKeys
from fairshare.ports import ApiCredential


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stubbed() -> Iterator[tuple[ApiGatewayKeys, Stubber, Clock]]:
    client = boto3.client(
        "apigateway", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    clock = Clock()
    with Stubber(client) as stubber:
        yield ApiGatewayKeys(client, clock), stubber, clock
        stubber.assert_no_pending_responses()


def _expect(
    stubber: Stubber, key_id: str, enabled: bool = True, plans: list[dict[str, object]] | None = None
) -> None:
    stubber.add_response(
        "get_api_key",
        {"id": key_id, "value": f"value-of-{key_id}", "enabled": enabled},
        {"apiKey": key_id, "includeValue": True},
    )
    stubber.add_response(
        "get_usage_plans",
        {
            "items": plans
            if plans is not None
            else [{"id": "p1", "throttle": {"rateLimit": 10.0, "burstLimit": 20}}]
        },
        {"keyId": key_id, "limit": 10},
    )


def test_a_key_is_its_value_and_its_usage_plans_throttle(
    stubbed: tuple[ApiGatewayKeys, Stubber, Clock],
) -> None:
    keys, stubber, _ = stubbed
    _expect(stubber, "k1")
    assert keys.lookup("k1") == ApiCredential("k1", "value-of-k1", True, 10.0, 20)


def test_a_key_is_read_once_a_minute(stubbed: tuple[ApiGatewayKeys, Stubber, Clock]) -> None:
    keys, stubber, clock = stubbed
    _expect(stubber, "k1")
    _expect(stubber, "k1", enabled=False)
    first = keys.lookup("k1")
    clock.now += 59
    cached = keys.lookup("k1")
    clock.now += 2
    revoked = keys.lookup("k1")
    assert first == cached and first is not None and first.enabled
    assert revoked is not None and not revoked.enabled


def test_a_key_in_no_usage_plan_is_not_enabled(stubbed: tuple[ApiGatewayKeys, Stubber, Clock]) -> None:
    keys, stubber, _ = stubbed
    _expect(stubber, "k1", plans=[])
    credential = keys.lookup("k1")
    assert credential is not None and not credential.enabled


def test_an_unknown_key_is_none_and_other_errors_raise(
    stubbed: tuple[ApiGatewayKeys, Stubber, Clock],
) -> None:
    keys, stubber, _ = stubbed
    stubber.add_client_error("get_api_key", "NotFoundException", "Invalid API Key identifier specified", 404)
    stubber.add_client_error("get_api_key", "TooManyRequestsException", "slow down", 429)
    assert keys.lookup("nope") is None
    with pytest.raises(Exception, match="slow down"):
        keys.lookup("other")
