"""In-memory fakes of the ports. They behave like the real thing where the platform depends on it:
the Athena fake counts active queries against a quota (TooManyRequestsException when full), can
rate-throttle, fail with 5xx or permanently, hold queries RUNNING, and is idempotent on the
ClientRequestToken (I-3)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fairshare.ports import (
    ApiCredential,
    ApiKeys,
    Athena,
    AthenaCallError,
    AthenaCatalog,
    Clock,
    Execution,
    Metrics,
    Notifier,
    Permanent,
    PerTenant,
    QuotaThrottle,
    ResultPage,
    ResultStore,
    Usage,
    UsageSample,
    Wakeups,
)
from fairshare.services.athena_api import entity_not_found


class FakeClock:
    """A clock that moves only when told (or when something sleeps)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


@dataclass
class FakeExecution:
    execution_id: str
    token: str
    sql: str
    workgroup: str
    database: str
    state: str = "RUNNING"
    bytes_scanned: int = 0
    engine_ms: int = 0
    error_message: str | None = None
    rows: list[list[str | None]] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)

    def view(self, output_prefix: str) -> Execution:
        return Execution(
            execution_id=self.execution_id,
            state=self.state,
            workgroup=self.workgroup,
            bytes_scanned=self.bytes_scanned,
            engine_ms=self.engine_ms,
            athena_queue_ms=3,
            error_code="ATHENA_ERROR" if self.state == "FAILED" else None,
            error_message=self.error_message,
            output_location=f"{output_prefix}{self.execution_id}.csv",
        )


class FakeAthena:
    """Implements `fairshare.ports.Athena` in memory.

    - `quota`: active (QUEUED/RUNNING) executions allowed; a new start beyond it raises QuotaThrottle.
    - `script`: errors raised by the next `start` calls, in order (then normal behaviour resumes).
    - `permanent_sql`: any start whose SQL contains one of these fails permanently.
    - executions stay RUNNING until `finish()`.
    - `outputs[workgroup]` + `<id>.csv` is each result's location (as the workgroup enforces it).
    """

    def __init__(self, quota: int = 1000, outputs: Mapping[str, str] | None = None) -> None:
        self.quota = quota
        self.outputs = dict(outputs or {})
        self.script: deque[AthenaCallError] = deque()
        self.permanent_sql: set[str] = set()
        self.executions: dict[str, FakeExecution] = {}
        self.start_calls = 0
        self.get_calls = 0  # GetQueryExecution and BatchGetQueryExecution
        self.stop_calls: list[str] = []
        # the Glue catalog the pass-through calls read: database => table name => columns (name, type)
        self.catalog: dict[str, dict[str, list[tuple[str, str]]]] = {}
        self.peak_active = 0
        # who made each call: (tenant, operation, query id or execution id), as `as_tenant` gave it
        self.calls_as: list[tuple[str, str, str]] = []
        self._by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def active(self) -> int:
        return sum(1 for e in self.executions.values() if e.state in ("QUEUED", "RUNNING"))

    def as_tenant(self, tenant: str) -> FakeAthena:
        """`fairshare.ports.PerTenant`: the same Athena, with each call recorded in `calls_as`."""
        return _AthenaAs(self, tenant)  # type: ignore[return-value]

    def tenant_of_start(self, query_id: str) -> str | None:
        return next((t for t, op, ref in self.calls_as if op == "start" and ref == query_id), None)

    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        with self._lock:
            self.start_calls += 1
            if self.script:
                raise self.script.popleft()
            existing = self._by_token.get(query_id)
            if existing is not None:
                return existing  # I-3: same token, same execution
            if any(marker in sql for marker in self.permanent_sql):
                raise Permanent("InvalidRequestException", "line 1:8: Table not found")
            if self.active >= self.quota:
                raise QuotaThrottle("TooManyRequestsException", "CONCURRENT_QUERY_LIMIT_EXCEEDED")
            execution_id = str(uuid.UUID(int=next(self._ids)))
            self.executions[execution_id] = FakeExecution(execution_id, query_id, sql, workgroup, database)
            self._by_token[query_id] = execution_id
            self.peak_active = max(self.peak_active, self.active)
            return execution_id

    def _output(self, workgroup: str) -> str:
        return self.outputs.get(workgroup, f"s3://athena-results/{workgroup}/")

    def execution_for(self, query_id: str) -> FakeExecution | None:
        execution_id = self._by_token.get(query_id)
        return self.executions.get(execution_id) if execution_id else None

    def finish(
        self,
        execution_id: str,
        state: str = "SUCCEEDED",
        bytes_scanned: int = 1024,
        error_message: str | None = None,
        columns: Sequence[tuple[str, str]] = (("n", "integer"),),
        rows: Sequence[Sequence[str | None]] = (("1",),),
    ) -> None:
        with self._lock:
            execution = self.executions[execution_id]
            execution.state = state
            execution.bytes_scanned = bytes_scanned
            execution.engine_ms = 42
            execution.error_message = error_message
            execution.columns = list(columns)
            execution.rows = [list(r) for r in rows]

    def stop(self, execution_id: str) -> None:
        with self._lock:
            self.stop_calls.append(execution_id)
            execution = self.executions.get(execution_id)
            if execution is None:
                raise Permanent("InvalidRequestException", f"unknown execution {execution_id}")
            if execution.state in ("QUEUED", "RUNNING"):
                execution.state = "CANCELLED"

    def get(self, execution_id: str) -> Execution:
        with self._lock:
            self.get_calls += 1
            execution = self.executions.get(execution_id)
            if execution is None:
                raise Permanent("InvalidRequestException", f"unknown execution {execution_id}")
            return execution.view(self._output(execution.workgroup))

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        if len(execution_ids) > 50:
            raise Permanent("InvalidRequestException", "at most 50 ids")
        with self._lock:
            self.get_calls += 1
            found = [self.executions[i] for i in execution_ids if i in self.executions]
            return [e.view(self._output(e.workgroup)) for e in found]

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage:
        with self._lock:
            execution = self.executions[execution_id]
            start = int(page_token or 0)
            rows = execution.rows[start : start + max_results]
            more = start + max_results < len(execution.rows)
            return ResultPage(
                columns=list(execution.columns),
                rows=rows,
                next_token=str(start + max_results) if more else None,
            )

    # --- fairshare.ports.AthenaCatalog ------------------------------------------------------------
    def query_results(self, execution_id: str, page_token: str | None, max_results: int) -> dict[str, Any]:
        """GetQueryResults as Athena answers a SELECT: the first page starts with the column names."""
        with self._lock:
            execution = self.executions.get(execution_id)
            if execution is None:
                raise Permanent("InvalidRequestException", f"QueryExecution {execution_id} was not found")
            header: list[str | None] = [name for name, _ in execution.columns]
            rows: list[list[str | None]] = [header, *execution.rows]
            start = int(page_token or 0)
            page = rows[start : start + max_results]
            reply: dict[str, Any] = {
                "UpdateCount": 0,
                "ResultSet": {
                    "Rows": [
                        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page
                    ],
                    "ResultSetMetadata": {
                        "ColumnInfo": [
                            {
                                "CatalogName": "hive",
                                "SchemaName": "",
                                "TableName": "",
                                "Name": name,
                                "Label": name,
                                "Type": kind,
                                "Precision": 10 if kind == "integer" else 2147483647,
                                "Scale": 0,
                                "Nullable": "UNKNOWN",
                                "CaseSensitive": kind == "varchar",
                            }
                            for name, kind in execution.columns
                        ]
                    },
                },
            }
            if start + max_results < len(rows):
                reply["NextToken"] = str(start + max_results)
            return reply

    def catalog_call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        database = str(params.get("DatabaseName", ""))
        if database not in self.catalog:
            raise Permanent("MetadataException", entity_not_found(f"Database {database} not found."))
        tables = self.catalog[database]
        if operation == "GetDatabase":
            return {"Database": {"Name": database, "Parameters": {}}}
        if operation == "ListTableMetadata":
            return {"TableMetadataList": [_table(name, columns) for name, columns in sorted(tables.items())]}
        if operation == "GetTableMetadata":
            name = str(params.get("TableName", ""))
            if name not in tables:
                raise Permanent("MetadataException", entity_not_found(f"Table {name} not found."))
            return {"TableMetadata": _table(name, tables[name])}
        raise ValueError(f"{operation} is not a catalog call")


def _table(name: str, columns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Columns": [{"Name": column, "Type": kind} for column, kind in columns],
        "PartitionKeys": [],
        "Parameters": {"classification": "csv"},
    }


class FakeApiKeys:
    """Implements `fairshare.ports.ApiKeys` from a dict of key id => credential."""

    def __init__(self, credentials: Mapping[str, ApiCredential] | None = None) -> None:
        self.credentials = dict(credentials or {})
        self.lookups = 0

    def lookup(self, key_id: str) -> ApiCredential | None:
        self.lookups += 1
        return self.credentials.get(key_id)


class _AthenaAs:
    """FakeAthena as one tenant: every call is recorded, then made on the shared fake."""

    def __init__(self, fake: FakeAthena, tenant: str) -> None:
        self._fake = fake
        self._tenant = tenant

    def _note(self, operation: str, ref: str) -> None:
        with self._fake._lock:
            self._fake.calls_as.append((self._tenant, operation, ref))

    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        self._note("start", query_id)
        return self._fake.start(query_id, sql, workgroup, database)

    def stop(self, execution_id: str) -> None:
        self._note("stop", execution_id)
        self._fake.stop(execution_id)

    def get(self, execution_id: str) -> Execution:
        self._note("get", execution_id)
        return self._fake.get(execution_id)

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        for execution_id in execution_ids:
            self._note("batch_get", execution_id)
        return self._fake.batch_get(execution_ids)

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage:
        self._note("results", execution_id)
        return self._fake.results(execution_id, page_token, max_results)

    def query_results(self, execution_id: str, page_token: str | None, max_results: int) -> dict[str, Any]:
        self._note("query_results", execution_id)
        return self._fake.query_results(execution_id, page_token, max_results)

    def catalog_call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self._note(operation, str(params.get("DatabaseName", "")))
        return self._fake.catalog_call(operation, params)


P = TypeVar("P")


class Shared(Generic[P]):
    """Implements `fairshare.ports.PerTenant` with one adapter for every tenant (tests that do not look
    at execution identities)."""

    def __init__(self, port: P) -> None:
        self.port = port

    def as_tenant(self, tenant: str) -> P:
        return self.port


class RecordingMetrics:
    """Implements `fairshare.ports.Metrics`; keeps every data point."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str]]] = []
        self._lock = threading.Lock()

    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        with self._lock:
            self.points.append((name, value, dict(dimensions)))

    def total(self, name: str, **dimensions: str) -> float:
        return sum(
            v for n, v, d in self.points if n == name and all(d.get(k) == x for k, x in dimensions.items())
        )

    def values(self, name: str) -> list[float]:
        return [v for n, v, _ in self.points if n == name]


class RecordingNotifier:
    """Implements `fairshare.ports.Notifier`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def notify(self, topic_arn: str, subject: str, message: Mapping[str, Any]) -> None:
        self.sent.append((topic_arn, subject, dict(message)))


class RecordingWakeups:
    """Implements `fairshare.ports.Wakeups`; `down=True` makes every send fail like SQS would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []
        self.dead: list[tuple[str, str]] = []
        self.down = False

    def wake(self, reason: str, query_id: str | None = None) -> None:
        if self.down:
            raise ConnectionError("submissions queue unreachable")
        self.sent.append((reason, query_id))

    def dead_letter(self, reason: str, query_id: str) -> None:
        self.dead.append((reason, query_id))


class FakeResultStore:
    """Implements `fairshare.ports.ResultStore`: a link that names the object and its expiry (and the
    tenant whose credentials signed it, once `as_tenant` chose one)."""

    def __init__(self, tenant: str | None = None) -> None:
        self.tenant = tenant

    def as_tenant(self, tenant: str) -> FakeResultStore:
        return FakeResultStore(tenant)

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        signer = f"&X-Fake-Tenant={self.tenant}" if self.tenant else ""
        return (
            f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=fake{signer}"
        )


class FixedUsage:
    """Implements `fairshare.ports.Usage`: the samples set in `samples` (none at first)."""

    def __init__(self) -> None:
        self.samples: dict[str, UsageSample] = {}

    def latest(self, pools: Sequence[str], now: float) -> dict[str, UsageSample]:
        return {pool: self.samples[pool] for pool in pools if pool in self.samples}


def _conforms(
    athena: FakeAthena,
    clock: FakeClock,
    metrics: RecordingMetrics,
    notifier: RecordingNotifier,
    wakeups: RecordingWakeups,
    results: FakeResultStore,
    usage: FixedUsage,
) -> tuple[Athena, Clock, Metrics, Notifier, Wakeups, ResultStore, Usage]:
    """Never called: mypy checks here that each fake implements its port."""
    return athena, clock, metrics, notifier, wakeups, results, usage


def _conforms_athena_endpoint(
    athena: FakeAthena, keys: FakeApiKeys
) -> tuple[AthenaCatalog, PerTenant[AthenaCatalog], ApiKeys]:
    """Never called: mypy checks the Athena endpoint's fakes against their ports."""
    return athena, athena, keys
