"""The client and tenantctl against the real api Lambda handler on a moto-backed stage (in-process).

A loopback HTTP server plays API Gateway (API key -> key id, proxy event, 403 without a key); a pump
thread plays the dispatcher's and completion's triggers and finishes Athena executions (FakeAthena),
writing each result CSV to moto's S3 so that the presigned download works.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

# The handlers' loggers bind to the process's stdout when their modules are first imported: import
# them now, so that a pump thread's first round during a CliRunner invocation logs to the real stdout
# and not into the output under test.
from fairshare.handlers import api, completion, dispatcher  # noqa: F401
from fairshare_tools.cli.tenantctl import cli
from fairshare_tools.client import ApiError, Client

from tests.integration.conftest import (
    BUCKET,
    FakeContext,
    Platform,
    api_event,
    athena_event,
    build_platform,
    complete,
    dispatch,
    wired,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

KEYS = {"secret-alpha": "key-alpha", "secret-beta": "key-beta"}  # x-api-key value -> API Gateway key id
ROWS = [[str(n), f"name-{n}"] for n in range(150)]
_handlers = threading.Lock()  # one handler invocation at a time, as separate Lambda environments would be


def _gateway(handler_path: str, method: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:

    key_id = KEYS.get(headers.get("x-api-key", ""))
    if key_id is None:
        return 403, json.dumps({"message": "Forbidden"})
    url = urlsplit(handler_path)
    query = {k: v[-1] for k, v in parse_qs(url.query).items()} or None
    event = api_event(
        method,
        url.path,
        key=key_id,
        query=query,
        raw_body=body.decode() if body else None,
        content_type=headers.get("content-type"),
    )
    with _handlers:
        reply = api.handler(event, FakeContext())
    return int(reply["statusCode"]), str(reply.get("body") or "")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, text = _gateway(self.path, self.command, headers, body)
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve


def _finish_running(platform: Platform) -> None:
    """Finish every running execution: result CSV in S3, then the completion event."""
    for execution in list(platform.athena.executions.values()):
        if execution.state != "RUNNING" or "fairshare:hold" in execution.sql:
            continue
        failed = "fairshare:fail" in execution.sql
        platform.athena.finish(
            execution.execution_id,
            state="FAILED" if failed else "SUCCEEDED",
            bytes_scanned=4096,
            error_message="line 1:8: emulated failure" if failed else None,
            columns=[("id", "integer"), ("name", "varchar")],
            rows=ROWS,
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["id", "name"])
        writer.writerows(ROWS)
        location = platform.athena.get(execution.execution_id).output_location or ""
        key = location.removeprefix(f"s3://{BUCKET}/")
        platform.s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue().encode())
        with _handlers:
            complete(athena_event(execution.execution_id, execution.state, execution.workgroup))


@dataclass
class Stage:
    platform: Platform
    url: str


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    with build_platform() as built, wired(built) as platform:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        serving.start()
        stop = threading.Event()

        def pump() -> None:
            while not stop.wait(0.05):
                with _handlers:
                    dispatch()
                _finish_running(platform)

        pumping = threading.Thread(target=pump, daemon=True)
        pumping.start()
        try:
            yield Stage(platform, f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            stop.set()
            pumping.join(timeout=5)
            server.shutdown()
            server.server_close()


@pytest.fixture
def alpha(stage: Stage) -> Iterator[Client]:
    with Client(stage.url, "secret-alpha", retries=0) as client:
        yield client


def test_submit_wait_and_rows_through_the_real_api(alpha: Client) -> None:
    final = alpha.run(
        "SELECT id, name FROM t", database="sales", priority=2, poll_interval_s=0.05, timeout_s=20
    )
    assert final.status == "SUCCEEDED", final
    assert (final.database, final.priority, final.bytes_scanned) == ("sales", 2, 4096)
    assert final.athena_execution_id and final.error is None
    columns, rows = alpha.open_results(final.query_id, source="pages")
    assert [c.name for c in columns] == ["id", "name"]
    assert list(rows) == ROWS  # two API pages of 100 and 50
    assert list(alpha.iter_rows(final.query_id, source="download")) == ROWS


def test_the_same_client_token_is_the_same_query(alpha: Client) -> None:
    first = alpha.submit("SELECT 1 /* fairshare:hold */", client_token="t" * 40)
    again = alpha.submit("SELECT 1 /* fairshare:hold */", client_token="t" * 40)
    assert first.query_id == again.query_id
    assert alpha.cancel(first.query_id).status == "CANCELLED"
    with pytest.raises(ApiError) as raised:
        alpha.cancel(first.query_id)
    assert (raised.value.status, raised.value.code) == (409, "conflict")


def test_a_failed_query_carries_athenas_reason(alpha: Client) -> None:
    final = alpha.run("SELECT 1 /* fairshare:fail */", poll_interval_s=0.05, timeout_s=20)
    assert final.status == "FAILED"
    assert final.error is not None and "emulated failure" in final.error.message
    with pytest.raises(ApiError) as raised:
        alpha.results_page(final.query_id)
    assert raised.value.code == "conflict"


def test_isolation_and_auth_errors_have_the_contracts_codes(stage: Stage, alpha: Client) -> None:
    mine = alpha.submit("SELECT 1 /* fairshare:hold */").query_id
    with Client(stage.url, "secret-beta", retries=0) as beta, pytest.raises(ApiError) as raised:
        beta.status(mine)
    assert (raised.value.status, raised.value.code) == (404, "not_found")
    with Client(stage.url, "wrong", retries=0) as stranger, pytest.raises(ApiError) as raised:
        stranger.usage()
    assert (raised.value.status, raised.value.code) == (403, "forbidden")
    with pytest.raises(ApiError) as raised:
        alpha.submit("")
    assert (raised.value.status, raised.value.code) == (400, "validation_error")
    alpha.cancel(mine)


def test_list_and_usage_parse(alpha: Client) -> None:
    alpha.run("SELECT 2", poll_interval_s=0.05, timeout_s=20)
    listed = list(alpha.list_queries(limit=50))
    assert listed and all(q.query_id for q in listed)
    assert list(alpha.list_queries(status="SUCCEEDED", limit=50))
    usage = alpha.usage()
    assert usage.tenant == "alpha" and set(usage.effective_limit) == {"DML", "DDL"}


def test_tenantctl_submit_wait_prints_the_rows(stage: Stage) -> None:
    env = {
        "TENANTCTL_ENDPOINT": stage.url,
        "TENANTCTL_API_KEY": "secret-beta",
        "TENANTCTL_CONFIG": "/nonexistent",
    }
    result = CliRunner().invoke(
        cli, ["submit", "SELECT id, name FROM t", "--wait", "--format", "csv"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,name" and lines[1] == "0,name-0" and len(lines) == 151
