"""The tenantctl bad-input matrix, end to end: the CLI's HTTP requests go to the real api handler on
the moto stage (API Gateway's part, key to key id, is played by a `requests` adapter). Every bad input
ends with a non-zero exit code and one clear line on stderr, and nothing is stored: ledger items,
counters, the submissions queue and the results bucket are compared before and after each case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from click.testing import CliRunner
from fairshare_tools.cli.tenantctl import cli

from tests.integration.conftest import BUCKET, Platform, api_event

ENDPOINT = "https://fairshare.test/v1"
KEYS = {"secret-alpha": "key-alpha", "secret-beta": "key-beta"}  # API key value -> API Gateway key id
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


class ApiGatewayAdapter(requests.adapters.BaseAdapter):
    """Turns a request to ENDPOINT into the proxy event API Gateway would send to the api Lambda."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        from fairshare.handlers import api

        url = urlsplit(request.url or "")
        path = url.path.removeprefix("/v1") or "/"
        headers = {k: str(v) for k, v in request.headers.items()}
        key = headers.get("x-api-key")
        if key is not None and key not in KEYS:
            return self._response(request, 403, {"message": "Forbidden"})  # API Gateway refuses it
        body = request.body
        raw = body.encode() if isinstance(body, str) else body
        event = api_event(
            str(request.method),
            path,
            key=KEYS.get(key) if key else None,
            headers=headers,
            query=dict(parse_qsl(url.query)) or None,
            raw_body=raw,
            content_type=None,
        )
        reply = api.handler(event, _Context())  # type: ignore[arg-type]
        return self._response(request, int(reply["statusCode"]), json.loads(reply.get("body") or "{}"))

    @staticmethod
    def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        return None


class _Context:
    function_name = "fairshare-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fairshare-api"
    aws_request_id = "00000000-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class _Session(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.mount(ENDPOINT, ApiGatewayAdapter())  # more specific than the client's own http(s):// mounts


@pytest.fixture(scope="module")
def stage(shared_platform: Platform) -> Iterator[Platform]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fairshare_tools.client.requests.Session", _Session)
        yield shared_platform


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    exit_code: int
    says: str  # a fragment the one error line must contain
    key: str | None = "secret-alpha"
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: str | None = None


LONG_SQL = "SELECT '" + "x" * 262_140 + "'"  # 262,149 bytes: over Athena's 262,144
CASES = [
    # SQL
    Case("empty sql", ("submit", ""), 1, "validation_error"),
    Case("blank sql", ("submit", "   \n\t "), 1, "validation_error"),
    Case("sql over 262,144 bytes", ("submit", LONG_SQL), 1, "262144"),
    Case("sql with a NUL", ("submit", "SELECT 1\x00"), 1, "validation_error"),
    # regression: a non-UTF-8 file crashed tenantctl with a traceback
    Case(
        "sql file not utf-8", ("submit", "@bad.sql"), 2, "not UTF-8", files={"bad.sql": b"SELECT '\xff\xfe'"}
    ),
    Case("sql file missing", ("submit", "@absent.sql"), 2, "absent.sql"),
    Case("sql from empty stdin", ("submit", "-"), 1, "validation_error", stdin=""),
    Case("two statements", ("submit", "SELECT 1; SELECT 2"), 1, "validation_error"),
    Case(
        "two statements, comment between", ("submit", "SELECT 1; -- x\nDROP TABLE t"), 1, "validation_error"
    ),
    Case("ddl without allow_ddl", ("submit", "CREATE TABLE t (a int)"), 1, "forbidden"),
    Case("drop without allow_ddl", ("submit", "DROP TABLE sales.orders"), 1, "forbidden"),
    Case("msck without allow_ddl", ("submit", "MSCK REPAIR TABLE t"), 1, "forbidden"),
    # database
    Case("unknown database", ("submit", "SELECT 1", "--database", "nope"), 1, "database"),
    Case("database injection", ("submit", "SELECT 1", "-d", "default; DROP"), 1, "database"),
    Case("database too long", ("submit", "SELECT 1", "-d", "d" * 300), 1, "validation_error"),
    # regression: an empty --database silently ran the query in the default database
    Case("database empty", ("submit", "SELECT 1", "-d", ""), 2, "--database"),
    Case("database blank", ("submit", "SELECT 1", "-d", "  "), 2, "--database"),
    # priority
    Case("priority above the CLI range", ("submit", "SELECT 1", "-p", "10"), 2, "priority"),
    Case("priority negative", ("submit", "SELECT 1", "-p", "-1"), 2, "priority"),
    Case("priority not a number", ("submit", "SELECT 1", "-p", "high"), 2, "priority"),
    Case("priority above the tenant levels", ("submit", "SELECT 1", "-p", "7"), 1, "priority"),
    # client token
    Case("token too short", ("submit", "SELECT 1", "--client-token", "t" * 31), 2, "client-token"),
    Case("token too long", ("submit", "SELECT 1", "--client-token", "t" * 129), 2, "client-token"),
    Case("token illegal chars", ("submit", "SELECT 1", "--client-token", "t" * 31 + "!"), 2, "client-token"),
    Case(
        "token with a space",
        ("submit", "SELECT 1", "--client-token", "t" * 20 + " " + "t" * 20),
        2,
        "client-token",
    ),
    Case("token unicode", ("submit", "SELECT 1", "--client-token", "é" * 40), 2, "client-token"),
    # ids
    Case("status of a non-uuid", ("status", "not-a-uuid"), 1, "UUID"),
    Case("status of a path traversal", ("status", "../usage"), 1, "error:"),
    Case("status of an sql injection", ("status", "' OR '1'='1"), 1, "error:"),
    Case("status of a uuid with a suffix", ("status", UUID + "/results"), 1, "error:"),
    Case("status of a non-canonical uuid", ("status", "{" + UUID + "}"), 1, "UUID"),
    Case("status of an unknown uuid", ("status", UUID), 1, "not_found"),
    Case("results of a non-uuid", ("results", "1 OR 1=1"), 1, "error:"),
    Case("results of an unknown uuid", ("results", UUID), 1, "not_found"),
    Case("cancel of a non-uuid", ("cancel", "%00"), 1, "error:"),
    Case("cancel of an unknown uuid", ("cancel", UUID), 1, "not_found"),
    Case("wait on a non-uuid", ("wait", "x" * 200), 1, "error:"),
    # list and usage
    Case("list with an unknown status", ("list", "--status", "DONE"), 2, "status"),
    Case("list with limit 0", ("list", "--limit", "0"), 2, "limit"),
    Case("list with limit over 100", ("list", "--limit", "101"), 1, "validation_error"),
    # credentials and transport
    Case("no api key", ("submit", "SELECT 1"), 1, "API key", key=None),
    Case("a wrong api key", ("submit", "SELECT 1"), 1, "forbidden", key="secret-nobody"),
    Case("a wrong api key on usage", ("usage",), 1, "forbidden", key="secret-nobody"),
    Case("timeout zero", ("--timeout", "0", "usage"), 2, "timeout"),
    Case(
        "submit-many with a bad line",
        ("submit-many", "batch.jsonl"),
        2,
        "line 2",
        files={"batch.jsonl": b'{"sql": "SELECT 1"}\n{"sql": \n'},
    ),
    Case(
        "submit-many of a non-utf-8 file",
        ("submit-many", "batch.bin"),
        2,
        "codec",
        files={"batch.bin": b"\xff\xfe\x00"},
    ),
    Case("unknown command", ("drop-everything",), 2, "No such command"),
]


def _snapshot(platform: Platform) -> dict[str, Any]:
    return {
        "items": sorted(json.dumps(i, sort_keys=True) for i in platform.query_items()),
        "state": sorted(
            json.dumps(i, sort_keys=True)
            for i in platform.ddb.scan(TableName="state", ConsistentRead=True)["Items"]
            if i["pk"]["S"].startswith("tenant#") and ("queued" in i or "running" in i)
        ),
        "queue": platform.queue_depth("submissions"),
        "objects": platform.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0),
    }


def test_the_matrix_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_cli_input_fails_clearly_and_stores_nothing(
    stage: Platform, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    env = {
        "TENANTCTL_ENDPOINT": ENDPOINT,
        "TENANTCTL_CONFIG": str(tmp_path / "absent.toml"),
        "TENANTCTL_PROFILE": "",
        "TENANTCTL_API_KEY": case.key or "",
        "TENANTCTL_POLL_INTERVAL": "0.01",
    }
    before = _snapshot(stage)
    result = CliRunner().invoke(cli, list(case.args), env=env, input=case.stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == case.exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if case.exit_code == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    else:  # click's usage error: the usage line, a hint, and one `Error:` line
        assert sum(line.startswith("Error: ") for line in lines) == 1, result.stderr
    assert case.says.lower() in result.stderr.lower(), result.stderr
    assert result.stdout == ""
    assert _snapshot(stage) == before


def test_the_bridge_works_for_a_good_submit(stage: Platform, tmp_path: Path) -> None:
    """The matrix is not vacuous: the same path accepts a good query (then it is cancelled)."""
    env = {
        "TENANTCTL_ENDPOINT": ENDPOINT,
        "TENANTCTL_CONFIG": str(tmp_path / "absent.toml"),
        "TENANTCTL_PROFILE": "",
        "TENANTCTL_API_KEY": "secret-alpha",
    }
    submitted = CliRunner().invoke(cli, ["submit", "SELECT 1"], env=env)
    assert submitted.exit_code == 0, submitted.stderr
    query_id = submitted.stdout.strip()
    cancelled = CliRunner().invoke(cli, ["cancel", query_id], env=env)
    assert cancelled.exit_code == 0 and "CANCELLED" in cancelled.stdout
