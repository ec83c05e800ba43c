"""The ledger held in memory: `fairshare.ports.Ledger` with the DynamoDB ledger's conditions.

Every transition checks what the DynamoDB ledger's conditional writes check (the query's status, the
queue's `max_queued`, the tenant's cap, the pool's effective limit in whole slots, the fair-share lift
once per rejoin, the optimistic limit, room and bucket) and applies all of its changes or none, under one
lock, so concurrent rounds on threads race as they do against DynamoDB. Counters move exactly as the
DynamoDB updates move them (an unconditional release may go below zero; reconcile repairs drift).
The fair-share history changes through `ServiceHistory`'s own transitions.

An attribute DynamoDB would not have written yet is None here, because a condition such as
`attribute_not_exists(running) OR running < :cap` treats it differently from 0.

`tests/conformance` runs one suite against this ledger and the DynamoDB one.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fairshare.domain.errors import DependencyUnavailable, QueueFull
from fairshare.domain.limits import Room, whole_slots
from fairshare.domain.service import ServiceDecay, ServiceHistory
from fairshare.ports import (
    DuplicateQuery,
    Finalization,
    Ledger,
    Page,
    PoolRecord,
    QueryRecord,
    QueryStatus,
    RoundState,
    TenantRecord,
    UnknownQuery,
    queue_key,
    queue_key_prefix,
)

_T = TypeVar("_T")
_MAX_POSITION = 1000
_OUTCOME_FIELDS = (
    "engine_ms",
    "athena_queue_ms",
    "error_code",
    "error_message",
    "error_kind",
    "output_location",
)


@dataclass(slots=True)
class _Query:
    """A `queries` item: the record plus the keys of its sparse indexes (None: not in the index)."""

    record: QueryRecord
    queue_key: str | None = None  # `queued_heads`, while QUEUED
    active_pool: str | None = None  # `active`, while ADMITTED or RUNNING


@dataclass(slots=True)
class _Pool:
    active: int | None = None
    limit_value: float | None = None
    limit_slots: int | None = None
    limit_changed_at: float | None = None
    last_throttle_at: float | None = None
    room: Room | None = None

    def view(self, name: str) -> PoolRecord:
        return PoolRecord(
            name=name,
            active=self.active or 0,
            limit_value=self.limit_value,
            limit_changed_at=self.limit_changed_at,
            last_throttle_at=self.last_throttle_at,
            room=self.room,
        )

    def has_a_free_slot(self) -> bool:
        # I-2: below the persisted effective limit, in whole slots
        if self.limit_value is None:
            return False
        if self.active is None:
            return True
        return self.active < (self.limit_slots if self.limit_slots is not None else self.limit_value)


@dataclass(slots=True)
class _Tenant:
    running: int | None = None
    queued: int | None = None
    bytes_day: str | None = None
    bytes_today: int = 0
    service: ServiceHistory = field(default_factory=ServiceHistory)
    waiting_reason: str | None = None
    waiting_since: float | None = None

    def view(self, name: str) -> TenantRecord:
        return TenantRecord(
            name=name,
            running=self.running or 0,
            queued=self.queued or 0,
            bytes_day=self.bytes_day,
            bytes_today=self.bytes_today,
            service=self.service,
            waiting_reason=self.waiting_reason,
            waiting_since=self.waiting_since,
        )


def _plus(counter: int | None, delta: int) -> int:
    return (counter or 0) + delta


class MemoryLedger:
    """Implements `fairshare.ports.Ledger` in memory, thread-safe.

    - `down = True` makes every call raise `DependencyUnavailable`, as the DynamoDB ledger does when
      DynamoDB cannot be reached; `failing` names the operations that do so alone (e.g. {"submit"}).
    - `calls` counts the calls per operation.
    """

    def __init__(self, ttl_days: int = 90, decay: ServiceDecay | None = None) -> None:
        self._ttl_s = ttl_days * 86_400
        self._decay = decay or ServiceDecay()
        self._lock = threading.RLock()
        self._queries: dict[str, _Query] = {}
        self._pools: dict[str, _Pool] = {}
        self._tenants: dict[str, _Tenant] = {}
        self._bucket: tuple[float, float] | None = None
        # The sparse indexes, as DynamoDB keeps them: per tenant its queued items by queue key, per
        # pool its active items, and the execution ids.
        self._queue_index: dict[str, list[tuple[str, str]]] = {}
        self._active_index: dict[str, set[str]] = {}
        self._by_execution: dict[str, str] = {}
        self.down = False
        self.failing: set[str] = set()
        self.calls: dict[str, int] = {}

    # --- plumbing ---------------------------------------------------------------------------------
    def _run(self, operation: str, body: Callable[[], _T]) -> _T:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            if self.down or operation in self.failing:
                raise DependencyUnavailable(f"ledger {operation} failed: unavailable")
            return body()

    def _index(self, item: _Query, key: str | None, pool: str | None) -> None:
        """Move an item in the sparse indexes: its queue key (None: not queued) and its active pool."""
        query_id, tenant = item.record.query_id, item.record.tenant
        if item.queue_key is not None:
            queue = self._queue_index[tenant]
            del queue[bisect.bisect_left(queue, (item.queue_key, query_id))]
        if key is not None:
            bisect.insort(self._queue_index.setdefault(tenant, []), (key, query_id))
        if item.active_pool is not None:
            self._active_index[item.active_pool].discard(query_id)
        if pool is not None:
            self._active_index.setdefault(pool, set()).add(query_id)
        item.queue_key, item.active_pool = key, pool

    def _pool(self, name: str) -> _Pool:
        return self._pools.setdefault(name, _Pool())

    def _tenant(self, name: str) -> _Tenant:
        return self._tenants.setdefault(name, _Tenant())

    def _status(self, query_id: str) -> str | None:
        item = self._queries.get(query_id)
        return item.record.status if item else None

    @staticmethod
    def _record(item: _Query) -> QueryRecord:
        # Copy on write (`_writable`): a record once handed out never changes, as an item read from
        # DynamoDB does not; readers must not change it either (the services never do).
        return item.record

    @staticmethod
    def _writable(item: _Query) -> QueryRecord:
        """The item's record, fresh for a transition to change (records handed out stay as read)."""
        item.record = dataclasses.replace(item.record)
        return item.record

    # --- queries ----------------------------------------------------------------------------------
    def get(self, query_id: str) -> QueryRecord | None:
        def body() -> QueryRecord | None:
            item = self._queries.get(query_id)
            return self._record(item) if item else None

        return self._run("get", body)

    def by_execution(self, execution_id: str) -> QueryRecord | None:
        def body() -> QueryRecord | None:
            query_id = self._by_execution.get(execution_id)
            return self._record(self._queries[query_id]) if query_id is not None else None

        return self._run("by_execution", body)

    def position(self, record: QueryRecord, cap: int = _MAX_POSITION) -> int:
        def body() -> int:
            queue = self._queue_index.get(record.tenant, [])
            ahead = bisect.bisect_left(queue, (record.queue_key, ""))
            return min(ahead, cap) + 1

        return self._run("position", body)

    def list_for_tenant(
        self, tenant: str, status: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> Page:
        def order(item: _Query) -> tuple[int, str]:
            return item.record.submitted_at, item.record.query_id

        def body() -> Page:
            items = sorted(
                (i for i in self._queries.values() if i.record.tenant == tenant), key=order, reverse=True
            )
            if start_key:
                after = (int(start_key["submitted_at"]), str(start_key["query_id"]))
                items = [i for i in items if order(i) < after]
            # As the `tenant_time` index is read: `limit` items are read, then the status filter
            # applies, and the last item read keys the next page if any item follows it.
            page = Page()
            read = 0
            for item in items:
                if len(page.records) >= limit:
                    break
                read += 1
                if status is None or item.record.status == status:
                    page.records.append(self._record(item))
            if read < len(items) and read:
                last = items[read - 1].record
                page.last_key = {
                    "query_id": last.query_id,
                    "tenant": last.tenant,
                    "submitted_at": last.submitted_at,
                }
            return page

        return self._run("list_for_tenant", body)

    def queued_heads(self, tenant: str, limit: int, priority: int | None = None) -> list[QueryRecord]:
        def body() -> list[QueryRecord]:
            queue = self._queue_index.get(tenant, [])
            first, end = 0, len(queue)
            if priority is not None:
                prefix = queue_key_prefix(priority)
                first = bisect.bisect_left(queue, (prefix, ""))
                end = bisect.bisect_left(queue, (prefix + "\uffff", ""), first)
            wanted = queue[first : min(end, first + max(1, limit))]
            return [self._record(self._queries[query_id]) for _, query_id in wanted]

        return self._run("queued_heads", body)

    # --- state ------------------------------------------------------------------------------------
    def tenants(self, names: Sequence[str]) -> dict[str, TenantRecord]:
        return self._run("tenants", lambda: self._tenant_views(names))

    def _tenant_views(self, names: Sequence[str]) -> dict[str, TenantRecord]:
        return {name: self._tenants.get(name, _Tenant()).view(name) for name in names}

    def pools(self, names: Sequence[str]) -> dict[str, PoolRecord]:
        return self._run("pools", lambda: self._pool_views(names))

    def _pool_views(self, names: Sequence[str]) -> dict[str, PoolRecord]:
        return {name: self._pools.get(name, _Pool()).view(name) for name in names}

    def round_state(self, pools: Sequence[str], tenants: Sequence[str]) -> RoundState:
        return self._run(
            "round_state",
            lambda: RoundState(
                pools=self._pool_views(pools), tenants=self._tenant_views(tenants), bucket=self._bucket
            ),
        )

    def save_limit(
        self,
        pool: str,
        value: float,
        changed_at: float,
        throttled_at: float | None,
        expected_changed_at: float | None,
    ) -> bool:
        def body() -> bool:
            item = self._pools.get(pool, _Pool())
            if throttled_at is not None:
                # a throttle always lowers the limit, whatever a concurrent recovery wrote
                allowed = item.limit_value is None or item.limit_value >= value
            elif expected_changed_at is None:
                allowed = item.limit_changed_at is None
            else:
                allowed = item.limit_changed_at == expected_changed_at
            if not allowed:
                return False
            item = self._pool(pool)
            item.limit_value, item.limit_slots, item.limit_changed_at = value, whole_slots(value), changed_at
            if throttled_at is not None:
                item.last_throttle_at = throttled_at
            return True

        return self._run("save_limit", body)

    def ensure_pool(self, pool: str, limit_value: float, now: float) -> None:
        def body() -> None:
            item = self._pool(pool)
            if item.limit_value is None:
                item.limit_value, item.limit_slots = limit_value, whole_slots(limit_value)
                item.limit_changed_at = now
                item.active = item.active if item.active is not None else 0

        self._run("ensure_pool", body)

    def save_waiting(self, tenant: str, reason: str | None, since: float | None) -> None:
        def body() -> None:
            item = self._tenant(tenant)
            if reason is None or since is None:
                item.waiting_reason = item.waiting_since = None
            else:
                item.waiting_reason, item.waiting_since = reason, since

        self._run("save_waiting", body)

    def save_room(self, pool: str, slots: int, at: float, binding: bool) -> bool:
        def body() -> bool:
            item = self._pool(pool)
            if item.room is not None and not item.room.at < at:
                return False
            item.room = Room(slots, at, binding)
            return True

        return self._run("save_room", body)

    def read_bucket(self) -> tuple[float, float] | None:
        return self._run("read_bucket", lambda: self._bucket)

    def save_bucket(self, tokens: float, updated_at: float, expected: tuple[float, float] | None) -> bool:
        def body() -> bool:
            if self._bucket != expected:
                return False
            self._bucket = (tokens, updated_at)
            return True

        return self._run("save_bucket", body)

    # --- transitions ------------------------------------------------------------------------------
    def submit(self, record: QueryRecord, max_queued: int) -> None:
        def body() -> None:
            if record.query_id in self._queries:
                raise DuplicateQuery(record.query_id)
            tenant = self._tenant(record.tenant)
            if tenant.queued is not None and not tenant.queued < max_queued:
                raise QueueFull(f"tenant {record.tenant} has {max_queued} queries queued (max_queued)")
            stored = dataclasses.replace(record, expires_at=record.submitted_at // 1000 + self._ttl_s)
            item = self._queries[record.query_id] = _Query(stored)
            self._index(item, record.queue_key, None)
            tenant.queued = _plus(tenant.queued, 1)

        self._run("submit", body)

    def claim(
        self,
        record: QueryRecord,
        pool: str,
        tenant_cap: int,
        now_ms: int,
        lift_s: float = 0.0,
        lift_since_ms: int | None = None,
    ) -> bool:
        def body() -> bool:
            item = self._queries.get(record.query_id)
            pool_item = self._pools.get(pool, _Pool())
            tenant = self._tenants.get(record.tenant, _Tenant())
            lifts = lift_s > 0 and lift_since_ms is not None
            if (
                item is None
                or item.record.status != QueryStatus.QUEUED
                or not pool_item.has_a_free_slot()
                or not (tenant.running is None or tenant.running < tenant_cap)
                # fair share's rejoin lifts once: not if a slot went to the tenant since it rejoined
                or (lifts and not tenant.service.claimed_ms < (lift_since_ms or 0))
            ):
                return False
            stored = self._writable(item)
            stored.status, stored.admitted_at = QueryStatus.ADMITTED, now_ms
            self._index(item, None, pool)
            pool_item = self._pool(pool)
            pool_item.active = _plus(pool_item.active, 1)
            tenant = self._tenant(record.tenant)
            tenant.running, tenant.queued = _plus(tenant.running, 1), _plus(tenant.queued, -1)
            tenant.service = tenant.service.claimed(now_ms, lift_s if lifts else 0.0, self._decay)
            return True

        return self._run("claim", body)

    def mark_running(self, query_id: str, execution_id: str, now_ms: int) -> bool:
        def body() -> bool:
            item = self._queries.get(query_id)
            if item is None or item.record.status != QueryStatus.ADMITTED:
                return False
            stored = self._writable(item)
            stored.status, stored.athena_execution_id, stored.started_at = (
                QueryStatus.RUNNING,
                execution_id,
                now_ms,
            )
            self._by_execution[execution_id] = query_id
            return True

        return self._run("mark_running", body)

    def requeue(self, record: QueryRecord, pool: str) -> bool:
        def body() -> bool:
            item = self._queries.get(record.query_id)
            if item is None or item.record.status != QueryStatus.ADMITTED:
                return False
            # I-7: back at the head with its original queue key; no attempt is counted.
            stored = self._writable(item)
            stored.status, stored.admitted_at = QueryStatus.QUEUED, None
            self._index(item, record.queue_key, None)
            pool_item = self._pool(pool)
            pool_item.active = _plus(pool_item.active, -1)
            tenant = self._tenant(record.tenant)
            tenant.running, tenant.queued = _plus(tenant.running, -1), _plus(tenant.queued, 1)
            tenant.service = tenant.service.requeued(record.admitted_at or 0)
            return True

        return self._run("requeue", body)

    def add_attempt(self, query_id: str) -> int:
        def body() -> int:
            if query_id not in self._queries:
                raise UnknownQuery(query_id)
            stored = self._writable(self._queries[query_id])
            stored.attempts += 1
            return stored.attempts

        return self._run("add_attempt", body)

    def finalize(self, record: QueryRecord, outcome: Finalization) -> bool:
        def body() -> bool:
            item = self._queries.get(record.query_id)
            if item is None or item.record.status not in (QueryStatus.ADMITTED, QueryStatus.RUNNING):
                return False  # already terminal: a duplicate releases nothing
            stored = self._writable(item)
            stored.status, stored.finished_at = outcome.status, outcome.finished_at
            stored.bytes_scanned = outcome.bytes_scanned
            for name in _OUTCOME_FIELDS:
                value = getattr(outcome, name)
                if value is not None:
                    setattr(stored, name, value)
            self._index(item, None, None)
            pool_item = self._pool(record.statement_class)
            pool_item.active = _plus(pool_item.active, -1)
            tenant = self._tenant(record.tenant)
            tenant.running = _plus(tenant.running, -1)
            if tenant.bytes_day == outcome.day:
                tenant.bytes_today += outcome.bytes_scanned
            else:
                tenant.bytes_day, tenant.bytes_today = outcome.day, outcome.bytes_scanned
            # Fair share: the slot-seconds held from the claim to now go into the tenant's service.
            # A record without a claim time holds nothing: it is charged no time and unholds nothing.
            admitted_at = record.admitted_at or outcome.finished_at
            released = tenant.service.released(admitted_at, outcome.finished_at, self._decay)
            if not record.admitted_at:
                released = dataclasses.replace(released, held_ms=tenant.service.held_ms)
            tenant.service = released
            return True

        return self._run("finalize", body)

    def cancel_queued(self, record: QueryRecord, now_ms: int) -> bool:
        def body() -> bool:
            item = self._queries.get(record.query_id)
            if item is None or item.record.status != QueryStatus.QUEUED:
                return False
            stored = self._writable(item)
            stored.status, stored.finished_at, stored.error_kind = QueryStatus.CANCELLED, now_ms, "cancelled"
            self._index(item, None, None)
            tenant = self._tenant(record.tenant)
            tenant.queued = _plus(tenant.queued, -1)
            return True

        return self._run("cancel_queued", body)

    def restart_failed(self, record: QueryRecord) -> bool:
        def body() -> bool:
            item = self._queries.get(record.query_id)
            if (
                item is None
                or item.record.status != QueryStatus.FAILED
                or item.record.error_kind != "transient"
            ):
                return False
            stored = self._writable(item)
            stored.status, stored.attempts = QueryStatus.QUEUED, 0
            stored.finished_at = stored.error_code = stored.error_message = stored.error_kind = None
            self._index(item, queue_key(record.priority, record.seq), None)
            tenant = self._tenant(record.tenant)
            tenant.queued = _plus(tenant.queued, 1)
            return True

        return self._run("restart_failed", body)

    # --- reconcile --------------------------------------------------------------------------------
    def active(self, pool: str) -> list[QueryRecord]:
        def body() -> list[QueryRecord]:
            items = [self._queries[query_id] for query_id in self._active_index.get(pool, ())]
            items.sort(key=lambda i: (i.record.admitted_at or 0, i.record.query_id))
            return [self._record(i) for i in items]

        return self._run("active", body)

    def count_queued(self, tenant: str) -> int:
        return self._run("count_queued", lambda: len(self._queue_index.get(tenant, ())))

    def repair_counter(self, key: str, attribute: str, expected: int, actual: int) -> bool:
        def body() -> bool:
            kind, _, name = key.partition("#")
            target: _Pool | _Tenant
            if kind == "pool" and attribute == "active":
                target = self._pool(name)
            elif kind == "tenant" and attribute in ("running", "queued"):
                target = self._tenant(name)
            else:
                raise ValueError(f"no counter {attribute} on {key}")
            counter: int | None = getattr(target, attribute)
            if not (counter == expected or (expected == 0 and counter is None)):
                return False
            setattr(target, attribute, actual)
            return True

        return self._run("repair_counter", body)


def _conforms(ledger: MemoryLedger) -> Ledger:
    """Never called: mypy checks here that the memory ledger implements the port."""
    return ledger
