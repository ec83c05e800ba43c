"""The emulator as its own HTTP server, the fallback to the LocalStack provider.

Run it with `python -m fairshare_athena_emulator.server --port 4599`.

It speaks Athena's JSON 1.1 protocol on POST / and serves the admin API under /_fairshare/athena/. S3,
EventBridge and CloudWatch are reached with boto3 at FAIRSHARE_EMULATOR_AWS_ENDPOINT (LocalStack by default).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fairshare_athena_emulator import wire
from fairshare_athena_emulator.runtime import ADMIN_PREFIX, EmulatorRuntime, PortsFactory
from fairshare_athena_emulator.settings import EmulatorSettings

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")


def account_and_region(authorization: str | None) -> tuple[str, str]:
    """As LocalStack does: a 12-digit access key id is the account id; the region is the SigV4 scope's."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    if not match:
        return DEFAULT_ACCOUNT, DEFAULT_REGION
    access_key, region = match.groups()
    return (access_key if access_key.isdigit() and len(access_key) == 12 else DEFAULT_ACCOUNT), region


def boto3_ports(endpoint_url: str) -> PortsFactory:
    import boto3

    from fairshare_athena_emulator.aws import CloudWatchSink, EventBridgeSink, S3ObjectStore

    def factory(account_id: str, region: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            region_name=region,
        )
        kwargs: dict[str, Any] = {"endpoint_url": endpoint_url}
        return (
            S3ObjectStore(session.client("s3", **kwargs)),
            EventBridgeSink(session.client("events", **kwargs)),
            CloudWatchSink(session.client("cloudwatch", **kwargs)),
        )

    return factory


def make_handler(runtime: EmulatorRuntime) -> type[BaseHTTPRequestHandler]:
    class AthenaHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logging.getLogger(__name__).debug(format, *args)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _admin(self, method: str) -> None:
            import json

            status, document = runtime.admin(method, self.path.split("?", 1)[0], self._body())
            self._send(status, {"Content-Type": "application/json"}, json.dumps(document).encode())

        def do_GET(self) -> None:
            self._admin("GET")

        def do_PUT(self) -> None:
            self._admin("PUT")

        def do_POST(self) -> None:
            if self.path.startswith(ADMIN_PREFIX):
                self._admin("POST")
                return
            account, region = account_and_region(self.headers.get("Authorization"))
            response = wire.handle(
                lambda: runtime.engine(account, region), self.headers.get("X-Amz-Target"), self._body()
            )
            self._send(response.status, response.headers, response.body)

    return AthenaHandler


class EmulatorServer:
    """A threaded HTTP server around a runtime; `start()` serves in a background thread."""

    def __init__(self, runtime: EmulatorRuntime, host: str = "127.0.0.1", port: int = 4599) -> None:
        self.runtime = runtime
        self.httpd = ThreadingHTTPServer((host, port), make_handler(runtime))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="athena-emulator-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.runtime.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("FAIRSHARE_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAIRSHARE_EMULATOR_PORT", "4599")))
    parser.add_argument(
        "--aws-endpoint", default=os.environ.get("FAIRSHARE_EMULATOR_AWS_ENDPOINT", "http://127.0.0.1:4566")
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    runtime = EmulatorRuntime(EmulatorSettings.from_env(), boto3_ports(args.aws_endpoint))
    server = EmulatorServer(runtime, args.host, args.port)
    logging.getLogger(__name__).info("Athena emulator on %s", server.endpoint_url)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.runtime.stop()
        server.httpd.server_close()


if __name__ == "__main__":
    main()
