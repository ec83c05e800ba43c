"""Ports: the small interfaces the services need from the outside world.

Adapters (`fairshare.adapters`) implement them with boto3; `fairshare_tools.testing.fakes` implements them
in memory for tests and the simulator. Services import only this module, never boto3.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from fairshare.domain.limits import Room
from fairshare.domain.model import PoolName
from fairshare.domain.service import ServiceHistory

P_co = TypeVar("P_co", covariant=True)


class QueryStatus(enum.StrEnum):
    """A query's status in the ledger (`services.lifecycle` moves it). Athena's own states use the same
    names for QUEUED, RUNNING and the three terminal ones; the platform adds ADMITTED (claimed, not
    yet started). As a `str`, a status compares and serializes as its name."""

    QUEUED = "QUEUED"
    ADMITTED = "ADMITTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES: frozenset[str] = frozenset(
    {QueryStatus.SUCCEEDED, QueryStatus.FAILED, QueryStatus.CANCELLED}
)
ErrorKind = Literal["permanent", "transient", "cancelled", "athena"]


# --- Athena ---------------------------------------------------------------------------------------
class AthenaCallError(Exception):
    """A failed Athena call, already classified (see `fairshare.adapters.athena.classify`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class QuotaThrottle(AthenaCallError):
    """TooManyRequestsException: the account's active-query quota is full (I-7)."""


class RateThrottle(AthenaCallError):
    """ThrottlingException: the API call rate was exceeded; retry with backoff (I-8)."""


class Transient(AthenaCallError):
    """5xx, timeouts, connection errors: retry with backoff, a bounded number of times (I-8)."""


class Permanent(AthenaCallError):
    """Bad SQL, access denied, unknown workgroup: never retried (I-8)."""


@dataclass(slots=True, frozen=True)
class Execution:
    """What the platform needs from Athena's QueryExecution."""

    execution_id: str
    state: str  # QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED
    workgroup: str | None = None
    bytes_scanned: int = 0
    engine_ms: int = 0
    athena_queue_ms: int = 0
    error_code: str | None = None
    error_message: str | None = None
    output_location: str | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATUSES


@dataclass(slots=True, frozen=True)
class ResultPage:
    columns: Sequence[tuple[str, str]]
    rows: Sequence[Sequence[str | None]]
    next_token: str | None


class Athena(Protocol):
    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        """StartQueryExecution with ClientRequestToken=query_id (I-3); returns the execution id."""

    def stop(self, execution_id: str) -> None: ...

    def get(self, execution_id: str) -> Execution: ...

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        """At most 50 ids per call (Athena's limit)."""

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage: ...


class PerTenant(Protocol[P_co]):
    """A port whose calls are made as one tenant's execution identity (I-4): Athena and S3 see the
    tenant's own role, which alone reaches its workgroup, catalog, data and results."""

    def as_tenant(self, tenant: str) -> P_co: ...


# --- The rest of the outside world -----------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float) -> None: ...


class Metrics(Protocol):
    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        """One metric data point; dimensions add to the stage dimension (e.g. tenant=...)."""


class Notifier(Protocol):
    def notify(self, topic_arn: str, subject: str, message: Mapping[str, Any]) -> None: ...


@dataclass(slots=True, frozen=True)
class UsageSample:
    """Athena's account-wide active queries of a pool (QUEUED + RUNNING, every caller), as sampled."""

    at: float  # seconds since the epoch
    active: int


class Usage(Protocol):
    def latest(self, pools: Sequence[str], now: float) -> dict[str, UsageSample]:
        """The most recent usage sample per pool, of those from the last few minutes (none: absent)."""


class Wakeups(Protocol):
    def wake(self, reason: str, query_id: str | None = None) -> None:
        """Send a wake-up to the submissions queue."""

    def dead_letter(self, reason: str, query_id: str) -> None:
        """Put a wake-up straight into the submissions DLQ, where an alarm watches."""


class ResultStore(Protocol):
    def presign_get(self, bucket: str, key: str, expires_in: int) -> str: ...


@dataclass(slots=True, frozen=True)
class ApiCredential:
    """A tenant's API key as the Athena endpoint uses it: the key id is the SigV4 access key id and its
    value the secret; `enabled` and the usage plan's throttle are the REST route's revocation and limit."""

    key_id: str
    secret: str
    enabled: bool
    rate_per_s: float | None = None
    burst: int | None = None


class ApiKeys(Protocol):
    def lookup(self, key_id: str) -> ApiCredential | None:
        """The key and its usage plan's throttle, or None if no such key exists."""


class AthenaCatalog(Protocol):
    """Athena calls the Athena-compatible endpoint passes through, replies as Athena sends them."""

    def query_results(self, execution_id: str, page_token: str | None, max_results: int) -> dict[str, Any]:
        """GetQueryResults' reply (ResultSet, UpdateCount, NextToken) unchanged."""

    def catalog_call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One of ListDatabases, GetDatabase, ListTableMetadata, GetTableMetadata, with Athena's reply."""


class QueueTransport(Protocol):
    """Raw queue access for redrive."""

    def receive(self, queue_url: str, max_messages: int) -> list[QueueMessage]: ...

    def send(self, queue_url: str, body: str, attributes: Mapping[str, str] | None = None) -> None:
        """Send `body` as it is; `attributes` become string message attributes."""

    def delete(self, queue_url: str, receipt_handle: str) -> None: ...


@dataclass(slots=True, frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str


# --- The ledger -----------------------------------------------------------------------------------
@dataclass(slots=True)
class QueryRecord:
    """One query in the ledger (the `queries` table). Times are epoch milliseconds."""

    query_id: str
    tenant: str
    status: str
    sql: str
    database: str
    workgroup: str
    statement_class: PoolName  # the quota pool it counts in
    priority: int
    seq: int
    submitted_at: int
    client_token: str | None = None
    submitted_by: str | None = None
    # how submitted_by is known: "iam" (the caller's ARN; API Gateway verified its SigV4 signature),
    # "sigv4" (the Athena endpoint: the API key id whose SigV4 signature the api Lambda verified) or
    # "declared" (what an API-key caller said: the X-Fairshare-User header or the seed route's userId)
    submitted_by_source: str | None = None
    request_hash: str = ""
    output_format: str = "csv"
    attempts: int = 0
    admitted_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    athena_execution_id: str | None = None
    bytes_scanned: int | None = None
    engine_ms: int | None = None
    athena_queue_ms: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_kind: str | None = None
    output_location: str | None = None
    expires_at: int | None = None

    @property
    def queue_key(self) -> str:
        return queue_key(self.priority, self.seq)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


# Priorities run from 0 to 9 (`TenantPolicy.priority_levels` is at most 10); the key stores their
# complement so that an ascending read of the `queued_heads` index yields the highest priority first.
TOP_PRIORITY = 9


def queue_key_prefix(priority: int) -> str:
    """The part of a `queue_key` that all queued queries of one priority share."""
    return f"{TOP_PRIORITY - priority}#"


def queue_key(priority: int, seq: int) -> str:
    """The `queued_heads` sort key: higher priority first, then FIFO by the tenant's sequence."""
    return f"{queue_key_prefix(priority)}{seq:020d}"


@dataclass(slots=True)
class PoolRecord:
    name: str
    active: int
    limit_value: float | None
    limit_changed_at: float | None
    last_throttle_at: float | None
    room: Room | None = None  # the room the latest usage sample left, None before the first


@dataclass(slots=True, frozen=True)
class RoundState:
    pools: dict[str, PoolRecord]
    tenants: dict[str, TenantRecord]
    bucket: tuple[float, float] | None  # start tokens and when they were counted; None before the first


@dataclass(slots=True)
class TenantRecord:
    name: str
    running: int = 0
    queued: int = 0
    seq: int = 0
    bytes_day: str | None = None
    bytes_today: int = 0
    service: ServiceHistory = field(default_factory=ServiceHistory)
    # Why its next query waits, as the latest round that saw it waiting decided
    # (`fairshare.domain.waiting`), and since when (epoch seconds); None: not waiting then.
    waiting_reason: str | None = None
    waiting_since: float | None = None

    def bytes_on(self, day: str) -> int:
        return self.bytes_today if self.bytes_day == day else 0


@dataclass(slots=True, frozen=True)
class Finalization:
    """A query's terminal outcome, written together with the release of its slot."""

    status: str
    finished_at: int
    bytes_scanned: int = 0
    engine_ms: int | None = None
    athena_queue_ms: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_kind: str | None = None
    output_location: str | None = None
    day: str = ""


@dataclass(slots=True)
class Page:
    records: list[QueryRecord] = field(default_factory=list)
    last_key: dict[str, Any] | None = None


class DuplicateQuery(Exception):
    """The query id already exists (a replayed client token)."""


class UnknownQuery(KeyError):
    """The ledger holds no query with this id (an update never creates one)."""


# The ledger's port, split by responsibility. `Ledger` combines them; `fairshare.adapters.ddb_ledger`
# implements it on DynamoDB and `fairshare_tools.testing.memory_ledger` in memory, and one conformance suite
# (`tests/conformance`) holds both to the same conditions.
class QueryStore(Protocol):
    """Reads of the `queries` table and its sparse indexes."""

    def get(self, query_id: str) -> QueryRecord | None: ...
    def by_execution(self, execution_id: str) -> QueryRecord | None: ...
    def position(self, record: QueryRecord, cap: int) -> int:
        """1 + the tenant's queued queries ahead of `record` (at most `cap` of them are counted)."""

    def list_for_tenant(
        self, tenant: str, status: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> Page:
        """The tenant's queries, newest first; `status` filters, `start_key` is a page's `last_key`."""

    def queued_heads(self, tenant: str, limit: int, priority: int | None = None) -> list[QueryRecord]:
        """The tenant's queued queries in queue order (I-5), optionally of one priority only."""


class StateStore(Protocol):
    """The `state` table: pools (active count, effective limit, room), tenants, the start bucket."""

    def tenants(self, names: Sequence[str]) -> dict[str, TenantRecord]: ...
    def pools(self, names: Sequence[str]) -> dict[str, PoolRecord]: ...
    def round_state(self, pools: Sequence[str], tenants: Sequence[str]) -> RoundState:
        """Pools, tenants and the start bucket in one consistent read (a round's snapshot)."""
        ...

    def save_limit(
        self,
        pool: str,
        value: float,
        changed_at: float,
        throttled_at: float | None,
        expected_changed_at: float | None,
    ) -> bool:
        """Optimistic on `limit_changed_at`; a throttle's cut lands unless the limit is already lower."""

    def ensure_pool(self, pool: str, limit_value: float, now: float) -> None:
        """Create the pool with its initial effective limit, once (later calls change nothing)."""

    def save_room(self, pool: str, slots: int, at: float, binding: bool) -> bool:
        """Record the room a usage sample left, unless a newer sample's is already recorded."""

    def save_waiting(self, tenant: str, reason: str | None, since: float | None) -> None:
        """Record why the tenant's next query waits (None: nothing of it waits), unconditionally."""

    def read_bucket(self) -> tuple[float, float] | None: ...
    def save_bucket(self, tokens: float, updated_at: float, expected: tuple[float, float] | None) -> bool:
        """Optimistic: only if the bucket still holds `expected` (None: only if there is none yet)."""


class Transitions(Protocol):
    """A query's conditional transitions, each atomic with its counters (False: another writer won)."""

    def submit(self, record: QueryRecord, max_queued: int) -> None:
        """Put the query and count it queued, atomically. Raises DuplicateQuery, QueueFull."""

    def claim(
        self,
        record: QueryRecord,
        pool: str,
        tenant_cap: int,
        now_ms: int,
        lift_s: float = 0.0,
        lift_since_ms: int | None = None,
    ) -> bool:
        """QUEUED -> ADMITTED, if the pool is below its effective limit and the tenant below its cap
        (I-2); a lift is credited only if the tenant was given no slot since `lift_since_ms`."""

    def mark_running(self, query_id: str, execution_id: str, now_ms: int) -> bool:
        """ADMITTED -> RUNNING with Athena's execution id."""

    def requeue(self, record: QueryRecord, pool: str) -> bool:
        """ADMITTED -> QUEUED (a quota throttle, I-7): the slot is given back uncharged."""

    def add_attempt(self, query_id: str) -> int:
        """Count one more transient failure of the start; returns the count. Raises UnknownQuery."""

    def finalize(self, record: QueryRecord, outcome: Finalization) -> bool:
        """ADMITTED or RUNNING -> terminal, releasing the slot and charging the tenant, at most once."""

    def cancel_queued(self, record: QueryRecord, now_ms: int) -> bool:
        """QUEUED -> CANCELLED, uncounted from the tenant's queue."""

    def restart_failed(self, record: QueryRecord) -> bool:
        """FAILED after transient errors -> QUEUED again (operator redrive)."""


class Reconciliation(Protocol):
    """What reconcile recounts the counters from, and its conditional repair."""

    def active(self, pool: str) -> list[QueryRecord]:
        """The queries holding a slot of the pool (ADMITTED or RUNNING), oldest claim first."""

    def count_queued(self, tenant: str) -> int: ...
    def repair_counter(self, key: str, attribute: str, expected: int, actual: int) -> bool:
        """Set a counter (`pool#<name>` `active`, `tenant#<name>` `running`/`queued`) to `actual`
        if it still holds `expected` (0 also matches a counter never written)."""


class Ledger(QueryStore, StateStore, Transitions, Reconciliation, Protocol):
    """The whole ledger, as the services take it."""
