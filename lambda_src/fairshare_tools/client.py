"""Python client of the tenant API, for notebooks, services and `tenantctl`.

The tenant is the API key (I-4): nothing in a request body says who the caller is. Only tooling imports
this module; the Lambda handlers never do, so `requests` stays out of the function zip.

    client = Client("https://.../prod", api_key="...")
    status = client.submit("SELECT 1", database="default", wait=True)
    for row in client.iter_rows(status.query_id):
        ...
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import IO, Any, Literal, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
ACTIVE_STATUSES = frozenset({"QUEUED", "ADMITTED", "RUNNING"})
QueryStatusName = Literal["QUEUED", "ADMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]

Row = list[str | None]
DEFAULT_DATABASE = "default"  # Athena's default database; the API requires a database on submit
_M = TypeVar("_M", bound="_Model")


class ApiError(Exception):
    """The API answered with an error, or could not be reached; `code` is stable and machine-readable."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class WaitTimeout(ApiError):
    """The query was still active when the wait's deadline passed."""

    def __init__(self, query_id: str, timeout_s: float, last: QueryStatus) -> None:
        super().__init__("wait_timeout", f"query {query_id} still {last.status} after {timeout_s:g}s")
        self.last = last


class _Model(BaseModel):
    # Tolerant of fields the API adds later; strict about the ones we read.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorDetail(_Model):
    code: str
    message: str = ""


class Timings(_Model):
    queued_ms: int | None = None
    athena_queue_ms: int | None = None
    engine_ms: int | None = None


class Submission(_Model):
    query_id: str
    status: QueryStatusName
    position: int | None = None


class QueryStatus(_Model):
    query_id: str
    status: QueryStatusName
    priority: int | None = None
    database: str | None = None
    statement_class: str | None = None
    submitted_by: str | None = None
    submitted_by_source: str | None = None
    submitted_at: int | None = None
    position: int | None = None
    timings: Timings = Field(default_factory=Timings)
    bytes_scanned: int | None = None
    error: ErrorDetail | None = None
    athena_execution_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Column(_Model):
    name: str
    type: str = "varchar"


class ResultsPage(_Model):
    query_id: str
    download_url: str | None = None
    expires_in: int | None = None
    columns: list[Column] = Field(default_factory=list)
    rows: list[Row] = Field(default_factory=list)
    next_page_token: str | None = None


class QueryList(_Model):
    queries: list[QueryStatus] = Field(default_factory=list)
    next_page_token: str | None = None


class Usage(_Model):
    tenant: str
    weight: float | None = None
    running: int = 0
    queued: int = 0
    share: float | None = None
    bytes_today: int = 0
    daily_bytes_budget: int | None = None
    effective_limit: dict[str, int] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One query of a batch (`submit_many`)."""

    sql: str
    database: str | None = None
    priority: int | None = None
    client_token: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one query of a batch: its last known status, or the error that stopped it."""

    index: int
    spec: QuerySpec
    status: QueryStatus | None = None
    submission: Submission | None = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        return self.status is None or self.status.status == "SUCCEEDED"


def new_client_token() -> str:
    # Athena's ClientRequestToken needs 32-128 characters (I-3); a uuid4 hex is exactly 32.
    return uuid.uuid4().hex


USER_HEADER = "X-Fairshare-User"
ENV_USER = "FAIRSHARE_USER"


def default_user() -> str | None:
    """Who is submitting: $FAIRSHARE_USER, else the login name (None if neither is known)."""
    named = os.environ.get(ENV_USER, "").strip()
    if named:
        return named
    try:
        return getpass.getuser() or None
    except (OSError, KeyError):
        return None


class Client:
    """The tenant API's operations. Safe to share across threads (one pooled HTTP session)."""

    def __init__(
        self,
        endpoint: str,
        api_key: str | None,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        pool_size: int = 16,
        session: requests.Session | None = None,
        user_agent: str = "athena-fairshare-client",
        user: str | None = None,
    ) -> None:
        """`user` is sent as X-Fairshare-User, the submitting person the usage report shows (marked
        self-declared: an API key names the team, not the person). None: $FAIRSHARE_USER, else the login
        name; "" sends none."""
        if not endpoint:
            raise ApiError("config_error", "no API endpoint given")
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self._session = session or requests.Session()
        # POST is retried too: submit always sends a client_token, so a retry returns the same query.
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "POST", "DELETE"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = user_agent
        if api_key:
            self._session.headers["x-api-key"] = api_key
        self.user = default_user() if user is None else user
        if self.user:
            self._session.headers[USER_HEADER] = self.user

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the API's operations -------------------------------------------------------------------

    def submit(
        self,
        sql: str,
        *,
        database: str | None = None,
        priority: int | None = None,
        client_token: str | None = None,
        output_format: str | None = None,
    ) -> Submission:
        body: dict[str, Any] = {
            "sql": sql,
            "database": database or DEFAULT_DATABASE,
            "client_token": client_token or new_client_token(),
        }
        if priority is not None:
            body["priority"] = priority
        if output_format is not None:
            body["output_format"] = output_format
        return self._parse(Submission, self._request("POST", "/queries", json=body))

    def status(self, query_id: str) -> QueryStatus:
        return self._parse(QueryStatus, self._request("GET", f"/queries/{_segment(query_id)}"))

    def cancel(self, query_id: str) -> Submission:
        return self._parse(Submission, self._request("DELETE", f"/queries/{_segment(query_id)}"))

    def usage(self) -> Usage:
        return self._parse(Usage, self._request("GET", "/usage"))

    def list_page(
        self, *, status: str | None = None, limit: int | None = None, page_token: str | None = None
    ) -> QueryList:
        params = {"status": status, "limit": limit, "page_token": page_token}
        return self._parse(QueryList, self._request("GET", "/queries", params=params))

    def list_queries(self, *, status: str | None = None, limit: int | None = None) -> Iterator[QueryStatus]:
        """The tenant's own queries, newest first as the API orders them; pages are fetched lazily."""
        page_token: str | None = None
        returned = 0
        while True:
            page = self.list_page(status=status, limit=limit, page_token=page_token)
            for query in page.queries:
                if limit is not None and returned >= limit:
                    return
                returned += 1
                yield query
            page_token = page.next_page_token
            if not page_token or (limit is not None and returned >= limit):
                return

    def results_page(self, query_id: str, page_token: str | None = None) -> ResultsPage:
        params = {"page_token": page_token}
        path = f"/queries/{_segment(query_id)}/results"
        return self._parse(ResultsPage, self._request("GET", path, params=params))

    # --- conveniences built on them ----------------------------------------------------------

    def wait(
        self,
        query_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float = 0.5,
        max_poll_interval_s: float = 5.0,
        on_update: Callable[[QueryStatus, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> QueryStatus:
        """Poll until the query is terminal; `on_update(status, elapsed_s)` sees every poll."""
        started = clock()
        interval = poll_interval_s
        while True:
            current = self.status(query_id)
            elapsed = clock() - started
            if on_update is not None:
                on_update(current, elapsed)
            if current.terminal:
                return current
            if timeout_s is not None and elapsed >= timeout_s:
                raise WaitTimeout(query_id, timeout_s, current)
            pause = interval if timeout_s is None else min(interval, max(0.0, timeout_s - elapsed))
            sleep(pause)
            interval = min(max_poll_interval_s, interval * 1.5)

    def run(
        self,
        sql: str,
        *,
        database: str | None = None,
        priority: int | None = None,
        client_token: str | None = None,
        timeout_s: float | None = None,
        poll_interval_s: float = 0.5,
        on_update: Callable[[QueryStatus, float], None] | None = None,
    ) -> QueryStatus:
        """Submit and wait; the final status (SUCCEEDED, FAILED or CANCELLED) is returned, not raised."""
        submission = self.submit(sql, database=database, priority=priority, client_token=client_token)
        return self.wait(
            submission.query_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s, on_update=on_update
        )

    def iter_pages(self, query_id: str) -> Iterator[ResultsPage]:
        page_token: str | None = None
        while True:
            page = self.results_page(query_id, page_token)
            yield page
            page_token = page.next_page_token
            if not page_token:
                return

    def columns(self, query_id: str) -> list[Column]:
        return self.results_page(query_id).columns

    def open_results(
        self, query_id: str, *, source: Literal["download", "pages"] = "download"
    ) -> tuple[list[Column], Iterator[Row]]:
        """The columns and a generator of the rows (without the header) of a SUCCEEDED query.

        `download` streams the CSV through the presigned URL (one pass, any size); `pages` walks the
        API's pages. `download` falls back to pages when the API gives no URL. The first page is
        fetched now, so a query that is not SUCCEEDED raises here, not while iterating.
        """
        first = self.results_page(query_id)
        if source == "download" and first.download_url:
            return first.columns, self._csv_rows(first.download_url)
        return first.columns, self._page_rows(query_id, first)

    def iter_rows(self, query_id: str, *, source: Literal["download", "pages"] = "download") -> Iterator[Row]:
        """Rows of a SUCCEEDED query, without the header, as a generator (see `open_results`)."""
        return self.open_results(query_id, source=source)[1]

    def _csv_rows(self, url: str) -> Iterator[Row]:
        reader = csv.reader(self._stream_lines(url))
        if next(reader, None) is None:  # the header; the API gives the columns
            return
        for row in reader:
            yield list[str | None](row)

    def _page_rows(self, query_id: str, first: ResultsPage) -> Iterator[Row]:
        yield from first.rows
        page_token = first.next_page_token
        while page_token:
            page = self.results_page(query_id, page_token)
            yield from page.rows
            page_token = page.next_page_token

    def download(self, query_id: str, sink: IO[bytes], *, chunk_size: int = 1 << 16) -> int:
        """Copy the result CSV (header included) to `sink` through the presigned URL; returns bytes."""
        page = self.results_page(query_id)
        if not page.download_url:
            raise ApiError("no_download_url", f"the API gave no download URL for query {query_id}")
        written = 0
        with self._get_presigned(page.download_url) as response:
            for chunk in response.iter_content(chunk_size=chunk_size):
                sink.write(chunk)
                written += len(chunk)
        return written

    def submit_many(
        self,
        specs: Sequence[QuerySpec],
        *,
        max_workers: int = 8,
        wait: bool = False,
        timeout_s: float | None = None,
        poll_interval_s: float = 0.5,
        on_done: Callable[[BatchOutcome], None] | None = None,
    ) -> list[BatchOutcome]:
        """Submit (and optionally wait for) many queries, at most `max_workers` at a time."""

        def one(index: int, spec: QuerySpec) -> BatchOutcome:
            try:
                submission = self.submit(
                    spec.sql,
                    database=spec.database,
                    priority=spec.priority,
                    client_token=spec.client_token,
                )
            except ApiError as exc:
                return BatchOutcome(index, spec, error=exc)
            if not wait:
                return BatchOutcome(index, spec, submission=submission)
            try:
                final = self.wait(submission.query_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s)
            except ApiError as exc:
                return BatchOutcome(index, spec, submission=submission, error=exc)
            return BatchOutcome(index, spec, submission=submission, status=final)

        outcomes: list[BatchOutcome] = []
        with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="submit") as pool:
            futures = [pool.submit(one, i, spec) for i, spec in enumerate(specs)]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                if on_done is not None:
                    on_done(outcome)
        return sorted(outcomes, key=lambda o: o.index)

    # --- plumbing --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = self._session.request(method, self.endpoint + path, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise ApiError("connection_error", f"{method} {path}: {_reason(exc)}") from exc
        if response.status_code >= 400:
            raise api_error_from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                "bad_response", f"{method} {path} answered {response.status_code} with no JSON body"
            ) from exc

    def _parse(self, model: type[_M], body: Any) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<body>"
            raise ApiError(
                "bad_response", f"unexpected {model.__name__} from the API: {where}: {first['msg']}"
            ) from exc

    def _get_presigned(self, url: str) -> requests.Response:
        # The presigned URL carries its own authorization: the API key is not sent to S3.
        try:
            response = requests.get(url, stream=True, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise ApiError("download_failed", f"result download: {_reason(exc)}") from exc
        if response.status_code >= 400:
            response.close()
            raise ApiError("download_failed", f"result download answered HTTP {response.status_code}")
        return response

    def _stream_lines(self, url: str) -> Iterator[str]:
        with self._get_presigned(url) as response:
            text = io.TextIOWrapper(io.BufferedReader(_ResponseRaw(response)), encoding="utf-8", newline="")
            yield from text


class _ResponseRaw(io.RawIOBase):
    """A readable byte stream over a streaming response, decoding transfer/content encodings."""

    def __init__(self, response: requests.Response) -> None:
        self._chunks = response.iter_content(chunk_size=1 << 16)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def api_error_from_response(response: requests.Response) -> ApiError:
    """`{"error": {code, message}}` from our API; `{"message": ...}` from API Gateway itself."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("code"):
            return ApiError(str(error["code"]), str(error.get("message", "")), response.status_code)
        if "message" in body or "Message" in body:
            message = str(body.get("message", body.get("Message")))
            return ApiError(
                _GATEWAY_CODES.get(response.status_code, "http_error"), message, response.status_code
            )
    text = (response.text or response.reason or "").strip().splitlines()
    return ApiError(
        _GATEWAY_CODES.get(response.status_code, "http_error"),
        f"HTTP {response.status_code}" + (f": {text[0][:200]}" if text else ""),
        response.status_code,
    )


_GATEWAY_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "dependency_unavailable",
    504: "gateway_timeout",
}


def _segment(query_id: str) -> str:
    if not query_id or "/" in query_id or query_id in {".", ".."}:
        raise ApiError("bad_request", f"not a query id: {query_id!r}")
    return query_id


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def parse_query_file(lines: Iterable[str], *, database: str | None = None) -> list[QuerySpec]:
    """Queries for `submit-many`: JSON lines (`{"sql", "database", "priority", "client_token"}`) or
    plain SQL statements separated by `;` at the end of a line. `--` comment lines are skipped."""
    specs: list[QuerySpec] = []
    statement: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not statement and (not line or line.startswith("--")):
            continue
        if not statement and line.startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not valid JSON: {exc.msg}") from exc
            if not isinstance(item, dict) or not isinstance(item.get("sql"), str) or not item["sql"].strip():
                raise ValueError(f'line {number}: a JSON line needs a non-empty "sql" string')
            priority = item.get("priority")
            if priority is not None and not isinstance(priority, int):
                raise ValueError(f"line {number}: priority must be an integer")
            specs.append(
                QuerySpec(
                    sql=item["sql"],
                    database=item.get("database", database),
                    priority=priority,
                    client_token=item.get("client_token"),
                )
            )
            continue
        statement.append(raw.rstrip("\n"))
        if line.endswith(";"):
            sql = "\n".join(statement).strip().rstrip(";").strip()
            statement = []
            if sql:
                specs.append(QuerySpec(sql=sql, database=database))
    rest = "\n".join(statement).strip().rstrip(";").strip()
    if rest:
        specs.append(QuerySpec(sql=rest, database=database))
    return specs
