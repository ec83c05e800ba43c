"""The Athena-compatible endpoint over real HTTP: a loopback server turns each request into the API
Gateway proxy event the api Lambda receives (`POST /{stage}/athena`, `fairshare_tools.testing.
apigateway_proxy`) and answers with the handler's reply, so that unchanged Athena clients (botocore,
PyAthena) talk to the handler on moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.validate import ParamValidator
from fairshare import wiring
from fairshare.ports import ApiCredential
from fairshare.services import athena_api
from fairshare_tools.testing import apigateway_proxy
from fairshare_tools.testing.fakes import FakeApiKeys

from tests.integration.conftest import REGION, FakeContext, Platform

STAGE = "test"
SECRETS = {"key-alpha": "alpha-secret-value-0123456789", "key-beta": "beta-secret-value-0123456789"}


def credentials(rate_per_s: float | None = 1000.0, burst: int | None = 1000) -> dict[str, ApiCredential]:
    return {key: ApiCredential(key, secret, True, rate_per_s, burst) for key, secret in SECRETS.items()}


@dataclass
class Endpoint:
    url: str
    keys: FakeApiKeys
    events: list[dict[str, Any]] = field(default_factory=list)

    def client(self, key: str = "key-alpha", secret: str | None = None, **config: Any) -> Any:
        """A botocore Athena client as a tenant builds it: the platform's URL, the API key as credentials.
        Every reply it parses is checked against the operation's output shape in botocore's model."""
        client = boto3.client(
            "athena",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret if secret is not None else SECRETS.get(key, "unknown"),
            aws_session_token=None,
            config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, **config),
        )
        client.meta.events.register("after-call.athena.*", _check_output_shape)
        return client


def _check_output_shape(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if http_response.status_code != 200 or model.output_shape is None:
        return
    reply = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(reply, model.output_shape)
    assert not report.has_errors(), f"{model.name} reply does not match the model: {report.generate_report()}"


@contextmanager
def serve(platform: Platform, keys: FakeApiKeys | None = None) -> Iterator[Endpoint]:
    """The api handler behind a loopback HTTP server; the platform's clock follows the real one, since
    clients sign with the real time."""
    from fairshare.handlers import api

    platform.clock.advance(time.time() - platform.clock.now())
    keys = keys or FakeApiKeys(credentials())
    wiring.use_athena_endpoint(keys, platform.athena)
    athena_api.THROTTLE.reset()
    seen: list[dict[str, Any]] = []

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return api.handler(event, FakeContext())  # type: ignore[arg-type]

    try:
        with apigateway_proxy.serve(handle, STAGE) as base_url:
            yield Endpoint(f"{base_url}/athena", keys, seen)
    finally:
        wiring.use_athena_endpoint(None, None)


def error_of(reply: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(reply["statusCode"]), json.loads(reply["body"])
