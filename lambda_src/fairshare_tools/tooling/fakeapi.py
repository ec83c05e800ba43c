"""An in-memory tenant API on loopback, shaped exactly like docs/CONTRACTS.md, for tests and offline demos.

It is not the platform: there is no fair scheduling here. Each query is QUEUED for `queue_s`, RUNNING
for its duration, then SUCCEEDED. It reads the Athena emulator's hints, `/* fairshare:duration=2.5
fail=REASON scanned=1024 */`: `fail` makes the query FAILED with REASON as the message. Results are a
few rows per query, served as pages and as a CSV behind a "presigned" URL on the same server.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DURATION_HINT = re.compile(r"fairshare:[^*]*?\bduration=(\d+(?:\.\d+)?)")
FAIL_HINT = re.compile(r"fairshare:[^*]*?\bfail=(\S+)")
SCANNED_HINT = re.compile(r"fairshare:[^*]*?\bscanned=(\d+)")
DEFAULT_SCANNED = 3 * 1_048_576
MAX_SQL_BYTES = 262_144


@dataclass
class FakeQuery:
    query_id: str
    tenant: str
    sql: str
    database: str
    priority: int
    submitted_at: float
    duration_s: float
    queue_s: float
    fail_reason: str | None
    scanned: int = DEFAULT_SCANNED
    cancelled_at: float | None = None
    rows: int = 3
    submitted_by: str | None = None  # the X-Fairshare-User header, as the real API records it

    def status_at(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        age = now - self.submitted_at
        if age < self.queue_s:
            return "QUEUED"
        if age < self.queue_s + self.duration_s:
            return "RUNNING"
        return "FAILED" if self.fail_reason else "SUCCEEDED"


@dataclass
class FakeTenantApi:
    """The state behind the fake server; tests may inspect and tweak it directly."""

    api_keys: Mapping[str, str]  # api key -> tenant
    queue_s: float = 0.0
    default_duration_s: float = 0.05
    max_queued: int = 1000
    page_size: int = 2
    clock: Callable[[], float] = time.monotonic
    queries: dict[str, FakeQuery] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    requests_seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    fail_next: list[tuple[int, str]] = field(default_factory=list)  # (status, code) answered next
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- request handling (returns status and JSON body) ----------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        with self._lock:
            api_key = headers.get("x-api-key")
            self.requests_seen.append((method, path, api_key))
            if self.fail_next:
                status, code = self.fail_next.pop(0)
                return status, _error(code, f"injected {code}")
            tenant = self.api_keys.get(api_key or "")
            if tenant is None:
                return 403, {"message": "Forbidden"}
            now = self.clock()
            parts = [p for p in path.split("/") if p]
            if method == "POST" and parts == ["queries"]:
                return self._submit(tenant, body, now, headers.get("x-fairshare-user"))
            if method == "GET" and parts == ["queries"]:
                return self._list(tenant, query, now)
            if method == "GET" and parts == ["usage"]:
                return 200, self._usage(tenant, now)
            if len(parts) >= 2 and parts[0] == "queries":
                found = self.queries.get(parts[1])
                if found is None or found.tenant != tenant:
                    return 404, _error("not_found", f"no query {parts[1]}")
                if method == "GET" and len(parts) == 2:
                    return 200, self._view(found, now)
                if method == "GET" and parts[2:] == ["results"]:
                    return self._results(found, query, now)
                if method == "DELETE" and len(parts) == 2:
                    if found.status_at(now) in {"SUCCEEDED", "FAILED", "CANCELLED"}:
                        return 409, _error("conflict", f"query {found.query_id} is already terminal")
                    found.cancelled_at = now
                    return 200, {"query_id": found.query_id, "status": "CANCELLED"}
            return 404, _error("not_found", f"no route {method} {path}")

    def _submit(self, tenant: str, body: bytes, now: float, user: str | None = None) -> tuple[int, Any]:
        if len(body) > MAX_SQL_BYTES + 4096:
            return 413, _error("payload_too_large", "the query is longer than 262144 bytes")
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return 400, _error("validation_error", "the body is not JSON")
        sql = request.get("sql") if isinstance(request, dict) else None
        if not isinstance(sql, str) or not sql.strip():
            return 400, _error("validation_error", "sql is required")
        database = request.get("database")
        if not isinstance(database, str) or not database:
            return 400, _error("validation_error", "database is required")
        token = request.get("client_token")
        if token and (tenant, token) in self.tokens:
            existing = self.queries[self.tokens[(tenant, token)]]
            return 200, self._submission(existing, now)
        queued = sum(1 for q in self.queries.values() if q.tenant == tenant and q.status_at(now) == "QUEUED")
        if queued >= self.max_queued:
            return 429, _error("queue_full", f"tenant {tenant} has {queued} queued queries")
        hint = DURATION_HINT.search(sql)
        fail = FAIL_HINT.search(sql)
        scanned = SCANNED_HINT.search(sql)
        query = FakeQuery(
            query_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{token}") if token else uuid.uuid4()),
            tenant=tenant,
            sql=sql,
            database=database,
            priority=int(request.get("priority") or 0),
            submitted_at=now,
            duration_s=float(hint.group(1)) if hint else self.default_duration_s,
            queue_s=self.queue_s,
            fail_reason=fail.group(1) if fail else None,
            scanned=int(scanned.group(1)) if scanned else DEFAULT_SCANNED,
            submitted_by=user.strip() if user and user.strip() else None,
        )
        self.queries[query.query_id] = query
        if token:
            self.tokens[(tenant, token)] = query.query_id
        return 202, self._submission(query, now)

    def _submission(self, query: FakeQuery, now: float) -> dict[str, Any]:
        view = self._view(query, now)
        return {"query_id": query.query_id, "status": view["status"], "position": view["position"]}

    def _position(self, query: FakeQuery, now: float) -> int | None:
        if query.status_at(now) != "QUEUED":
            return None
        ahead = [
            q
            for q in self.queries.values()
            if q.tenant == query.tenant
            and q.status_at(now) == "QUEUED"
            and q.submitted_at < query.submitted_at
        ]
        return len(ahead) + 1

    def _view(self, query: FakeQuery, now: float) -> dict[str, Any]:
        status = query.status_at(now)
        done = status in {"SUCCEEDED", "FAILED"}
        return {
            "query_id": query.query_id,
            "status": status,
            "priority": query.priority,
            "database": query.database,
            "statement_class": "DML",
            "submitted_by": query.submitted_by,
            "submitted_by_source": "declared" if query.submitted_by else None,
            "submitted_at": int((time.time() - (now - query.submitted_at)) * 1000),
            "position": self._position(query, now),
            "timings": {
                "queued_ms": int(min(now - query.submitted_at, query.queue_s) * 1000),
                "athena_queue_ms": 0 if status != "QUEUED" else None,
                "engine_ms": int(query.duration_s * 1000) if done else None,
            },
            "bytes_scanned": query.scanned if done else None,
            "error": {"code": "query_failed", "message": query.fail_reason} if status == "FAILED" else None,
            "athena_execution_id": f"exec-{query.query_id[:8]}" if status != "QUEUED" else None,
        }

    def _list(self, tenant: str, query: dict[str, str], now: float) -> tuple[int, Any]:
        wanted = query.get("status")
        limit = int(query.get("limit") or 50)
        offset = int(query.get("page_token") or 0)
        mine = sorted(
            (
                q
                for q in self.queries.values()
                if q.tenant == tenant and (not wanted or q.status_at(now) == wanted)
            ),
            key=lambda q: q.submitted_at,
            reverse=True,
        )
        page = mine[offset : offset + limit]
        following = offset + limit if offset + limit < len(mine) else None
        return 200, {
            "queries": [self._view(q, now) for q in page],
            "next_page_token": str(following) if following is not None else None,
        }

    def _usage(self, tenant: str, now: float) -> dict[str, Any]:
        mine_queries = [q for q in self.queries.values() if q.tenant == tenant]
        mine = [q.status_at(now) for q in mine_queries]
        return {
            "tenant": tenant,
            "weight": 1.0,
            "running": mine.count("RUNNING"),
            "queued": mine.count("QUEUED"),
            "share": 1.0,
            "bytes_today": sum(
                q.scanned for q in mine_queries if q.status_at(now) in {"SUCCEEDED", "FAILED"}
            ),
            "daily_bytes_budget": None,
            "effective_limit": {"DML": 190, "DDL": 18},
        }

    def result_rows(self, query: FakeQuery) -> list[list[str]]:
        return [[str(i), f"row-{i}", query.database] for i in range(1, query.rows + 1)]

    def _results(self, query: FakeQuery, params: dict[str, str], now: float) -> tuple[int, Any]:
        if query.status_at(now) != "SUCCEEDED":
            return 409, _error("conflict", f"query {query.query_id} is {query.status_at(now)}, not SUCCEEDED")
        offset = int(params.get("page_token") or 0)
        rows = self.result_rows(query)
        following = offset + self.page_size if offset + self.page_size < len(rows) else None
        return 200, {
            "query_id": query.query_id,
            "download_url": f"{self.base_url}/_download/{query.query_id}.csv?X-Amz-Signature=fake",
            "expires_in": 900,
            "columns": [
                {"name": "n", "type": "integer"},
                {"name": "label", "type": "varchar"},
                {"name": "db", "type": "varchar"},
            ],
            "rows": rows[offset : offset + self.page_size],
            "next_page_token": str(following) if following is not None else None,
        }

    def download(self, path: str) -> bytes | None:
        match = re.fullmatch(r"/_download/([^/]+)\.csv", path)
        query = self.queries.get(match.group(1)) if match else None
        if query is None:
            return None
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["n", "label", "db"])
        writer.writerows(self.result_rows(query))
        return buffer.getvalue().encode()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler_for(api: FakeTenantApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per response: headers and body in separate segments meet delayed ACKs (40 ms).
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if method == "GET" and url.path.startswith("/_download/"):
                if self.headers.get("x-api-key"):
                    self._send(400, b"the API key must not be sent to the presigned URL", "text/plain")
                    return
                content = api.download(url.path)
                if content is None:
                    self._send(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
                else:
                    self._send(200, content, "text/csv")
                return
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = api.handle(method, url.path, params, headers, body)
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: int, content: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler


@contextmanager
def serve(api: FakeTenantApi) -> Iterator[str]:
    """Serve `api` on 127.0.0.1 (a free port) in a thread; yields the base URL and stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(api))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    api.base_url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
