"""The Athena-compatible endpoint over real HTTP: a loopback server turns each request into the API
Gateway proxy event the api Lambda receives (`POST /{stage}/athena`) and answers with the handler's reply,
so that unchanged Athena clients (botocore, PyAthena) talk to the handler on moto."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.validate import ParamValidator
from fairshare import wiring
from fairshare.ports import ApiCredential
from fairshare.services import athena_api
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


def proxy_event(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    """What API Gateway (REST v1, AWS_PROXY) passes for `POST /{stage}/athena`."""
    headers = {name: value for name, value in handler.headers.items()}
    multi: dict[str, list[str]] = {}
    for name, value in handler.headers.items():
        multi.setdefault(name, []).append(value)
    path = handler.path.split("?", 1)[0]
    resource = path[len(f"/{STAGE}") :] if path.startswith(f"/{STAGE}/") else path
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": handler.command,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "athena1",
            "stage": STAGE,
            "requestId": "req-athena",
            "httpMethod": handler.command,
            "path": path,
            "resourcePath": resource,
            "identity": {"apiKeyId": None, "apiKey": None, "sourceIp": "127.0.0.1"},
            "apiId": "api123",
        },
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
    }


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

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            event = proxy_event(self, body)
            seen.append(event)
            reply = api.handler(event, FakeContext())  # type: ignore[arg-type]
            payload = str(reply.get("body") or "").encode("utf-8")
            self.send_response(int(reply["statusCode"]))
            for name, value in (reply.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Endpoint(f"http://127.0.0.1:{server.server_address[1]}/{STAGE}/athena", keys, seen)
    finally:
        server.shutdown()
        server.server_close()
        wiring.use_athena_endpoint(None, None)


def error_of(reply: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(reply["statusCode"]), json.loads(reply["body"])
