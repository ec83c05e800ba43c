"""Load generator for a stage's tenant API: N tenants, open-loop at a rate or in a burst, a mix of query
durations (emulator hints) and priorities, for a duration. It measures what a tenant sees: submit
latency, errors by code, and how many accepted queries reach SUCCEEDED before a deadline.

Open loop: submissions follow their schedule whatever the API's latency (a bounded pool of workers
sends them; lag behind the schedule is reported), so a slow API shows up as latency, not as less load.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from fairshare_tools.client import TERMINAL_STATUSES, ApiError, Client, QueryStatus, Usage

DEFAULT_SQL = "SELECT {n} AS n /* fairshare:duration={duration:g} scanned={scanned} */"


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least pct% of values at or below it)."""
    if not values:
        return None
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {pct}")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_mix(text: str, kind: Callable[[str], Any] = float) -> tuple[tuple[Any, float], ...]:
    """`"0.5:3,5:1"` -> ((0.5, 3.0), (5.0, 1.0)): value:weight pairs (weight defaults to 1)."""
    pairs: list[tuple[Any, float]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        value, _, weight = item.partition(":")
        try:
            parsed = (kind(value), float(weight) if weight else 1.0)
        except ValueError as exc:
            raise ValueError(f"bad mix item {item!r}: want value[:weight]") from exc
        if parsed[1] <= 0:
            raise ValueError(f"bad mix item {item!r}: the weight must be positive")
        pairs.append(parsed)
    if not pairs:
        raise ValueError("an empty mix")
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class TenantTarget:
    name: str
    api_key: str


@dataclass(frozen=True, slots=True)
class LoadPlan:
    tenants: tuple[TenantTarget, ...]
    duration_s: float = 30.0
    rate_per_s: float | None = 2.0  # all tenants together; None with `burst` set
    burst: int | None = None  # queries per tenant, all at t=0
    durations: tuple[tuple[float, float], ...] = ((1.0, 1.0),)  # (emulated seconds, weight)
    priorities: tuple[tuple[int, float], ...] = ((1, 1.0),)  # (priority, weight)
    scanned: tuple[tuple[int, float], ...] = ((10_485_760, 1.0),)  # (emulated bytes scanned, weight)
    database: str | None = None
    completion_timeout_s: float = 120.0  # after the last submission
    poll_interval_s: float = 1.0
    # "list": one GET /queries page per 100 queries of the run per tenant and round (light on the API);
    # "get": one GET /queries/{id} per active query and round.
    poll_mode: Literal["list", "get"] = "list"
    max_workers: int = 16
    seed: int = 0
    sql_template: str = DEFAULT_SQL

    def __post_init__(self) -> None:
        if not self.tenants:
            raise ValueError("a load plan needs at least one tenant")
        if (self.rate_per_s is None) == (self.burst is None):
            raise ValueError("give exactly one of rate_per_s and burst")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be at least 1")


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    n: int
    at_s: float  # offset from the start
    tenant: TenantTarget
    duration_s: float
    priority: int
    scanned_bytes: int = 0

    def sql(self, template: str) -> str:
        return template.format(
            n=self.n, duration=self.duration_s, scanned=self.scanned_bytes, tenant=self.tenant.name
        )


def schedule(plan: LoadPlan) -> list[PlannedQuery]:
    """The submissions, in time order: Poisson arrivals at the rate, or `burst` per tenant at t=0."""
    rng = random.Random(plan.seed)
    durations, duration_weights = zip(*plan.durations, strict=True)
    priorities, priority_weights = zip(*plan.priorities, strict=True)
    scanned, scanned_weights = zip(*plan.scanned, strict=True)
    slots: list[tuple[float, TenantTarget]] = []
    if plan.burst is not None:
        # Interleave tenants so that no tenant's burst lands wholly before another's.
        slots = [(0.0, tenant) for _ in range(plan.burst) for tenant in plan.tenants]
    else:
        assert plan.rate_per_s is not None
        at = rng.expovariate(plan.rate_per_s)
        while at < plan.duration_s:
            slots.append((at, rng.choice(plan.tenants)))
            at += rng.expovariate(plan.rate_per_s)
    return [
        PlannedQuery(
            n=n,
            at_s=at,
            tenant=tenant,
            duration_s=float(rng.choices(durations, duration_weights)[0]),
            priority=int(rng.choices(priorities, priority_weights)[0]),
            scanned_bytes=int(rng.choices(scanned, scanned_weights)[0]),
        )
        for n, (at, tenant) in enumerate(slots)
    ]


@dataclass
class QueryRecord:
    planned: PlannedQuery
    submit_started: float | None = None
    submit_latency_s: float | None = None
    error_code: str | None = None
    query_id: str | None = None
    final_status: str | None = None
    finished_at: float | None = None

    @property
    def e2e_s(self) -> float | None:
        if self.finished_at is None or self.submit_started is None:
            return None
        return self.finished_at - self.submit_started


@dataclass(frozen=True, slots=True)
class TenantProgress:
    planned: int = 0
    accepted: int = 0
    errors: int = 0
    active: int = 0
    succeeded: int = 0
    failed: int = 0  # FAILED or CANCELLED


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Progress for a live view; `usage` is each tenant's last GET /usage when the generator watches it."""

    elapsed_s: float
    planned: int
    submitted: int
    accepted: int
    errors: int
    active: int
    by_status: Mapping[str, int]
    schedule_lag_s: float
    by_tenant: Mapping[str, TenantProgress] = field(default_factory=dict)
    usage: Mapping[str, Usage] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadReport:
    plan: LoadPlan
    records: tuple[QueryRecord, ...]
    wall_s: float
    schedule_lag_max_s: float
    per_tenant: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def submit_latencies_ms(self) -> list[float]:
        return [r.submit_latency_s * 1000 for r in self.records if r.submit_latency_s is not None]

    @property
    def errors_by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(r.error_code for r in self.records if r.error_code).items()))

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.records if r.query_id)

    @property
    def final_statuses(self) -> dict[str, int]:
        statuses = Counter(r.final_status or "UNFINISHED" for r in self.records if r.query_id)
        return dict(sorted(statuses.items()))

    @property
    def completion_rate(self) -> float | None:
        """SUCCEEDED over accepted (2xx) submissions."""
        accepted = self.accepted
        if accepted == 0:
            return None
        return sum(1 for r in self.records if r.final_status == "SUCCEEDED") / accepted

    def as_dict(self) -> dict[str, Any]:
        latencies = self.submit_latencies_ms
        e2e = [r.e2e_s for r in self.records if r.final_status == "SUCCEEDED" and r.e2e_s is not None]
        return {
            "tenants": len(self.plan.tenants),
            "mode": "burst" if self.plan.burst is not None else "rate",
            "rate_per_s": self.plan.rate_per_s,
            "burst_per_tenant": self.plan.burst,
            "duration_s": self.plan.duration_s,
            "wall_s": round(self.wall_s, 3),
            "planned": len(self.records),
            "submitted": len(latencies),
            "accepted": self.accepted,
            "submit_latency_ms": {
                "p50": _round(percentile(latencies, 50)),
                "p95": _round(percentile(latencies, 95)),
                "p99": _round(percentile(latencies, 99)),
                "max": _round(max(latencies) if latencies else None),
            },
            "errors_by_code": self.errors_by_code,
            "final_statuses": self.final_statuses,
            "completion_rate": None if self.completion_rate is None else round(self.completion_rate, 4),
            "e2e_s": {"p50": _round(percentile(e2e, 50)), "p95": _round(percentile(e2e, 95))},
            "schedule_lag_max_s": round(self.schedule_lag_max_s, 3),
            "per_tenant": {name: dict(stats) for name, stats in self.per_tenant.items()},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _per_tenant(records: Sequence[QueryRecord]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[QueryRecord]] = defaultdict(list)
    for record in records:
        grouped[record.planned.tenant.name].append(record)
    result: dict[str, dict[str, Any]] = {}
    for name, mine in sorted(grouped.items()):
        e2e = [r.e2e_s for r in mine if r.final_status == "SUCCEEDED" and r.e2e_s is not None]
        result[name] = {
            "planned": len(mine),
            "accepted": sum(1 for r in mine if r.query_id),
            "succeeded": sum(1 for r in mine if r.final_status == "SUCCEEDED"),
            "errors": sum(1 for r in mine if r.error_code),
            "e2e_p50_s": _round(percentile(e2e, 50)),
            "e2e_p95_s": _round(percentile(e2e, 95)),
        }
    return result


class LoadGenerator:
    """Runs a `LoadPlan` against one endpoint; `on_progress` gets a `Snapshot` about twice a second."""

    def __init__(
        self,
        endpoint: str,
        plan: LoadPlan,
        *,
        client_factory: Callable[[str, str], Client] | None = None,
        on_progress: Callable[[Snapshot], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        progress_interval_s: float = 0.5,
        watch_usage_s: float | None = None,
    ) -> None:
        self.plan = plan
        # Submit workers, poll workers and the usage watcher share each tenant's connection pool.
        factory = client_factory or (
            lambda url, key: Client(url, key, retries=0, timeout_s=30.0, pool_size=2 * plan.max_workers + 2)
        )
        self._clients = {t.name: factory(endpoint, t.api_key) for t in plan.tenants}
        self._on_progress = on_progress
        self._clock = clock
        self._progress_interval_s = progress_interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._records: list[QueryRecord] = []
        self._lag_max = 0.0
        self._started = 0.0
        self._submitting = threading.Event()
        self._watch_usage_s = watch_usage_s
        self._usage: dict[str, Usage] = {}

    def stop(self) -> None:
        """Ask a running `run()` to stop submitting and polling (e.g. on Ctrl-C from another thread)."""
        self._stop.set()

    def run(self) -> LoadReport:
        planned = schedule(self.plan)
        self._records = [QueryRecord(p) for p in planned]
        self._started = self._clock()
        self._started_wall_ms = int(time.time() * 1000)
        poller = threading.Thread(target=self._poll_until_done, name="loadgen-poll", daemon=True)
        watcher = threading.Thread(target=self._watch_usage, name="loadgen-usage", daemon=True)
        submitting = self._submitting
        submitting.set()
        poller.start()
        if self._watch_usage_s is not None:
            watcher.start()
        last_progress = 0.0
        try:
            with ThreadPoolExecutor(max_workers=self.plan.max_workers, thread_name_prefix="loadgen") as pool:
                for record in self._records:
                    while not self._stop.is_set():
                        now = self._clock() - self._started
                        if now >= record.planned.at_s:
                            break
                        if now - last_progress >= self._progress_interval_s:
                            self._emit_progress()
                            last_progress = now
                        time.sleep(min(0.05, record.planned.at_s - now))
                    if self._stop.is_set():
                        break
                    pool.submit(self._submit, record)
            submitting.clear()
            while poller.is_alive():
                self._emit_progress()
                poller.join(timeout=self._progress_interval_s)
        finally:
            self._stop.set()
            poller.join(timeout=5)
            if watcher.is_alive():
                watcher.join(timeout=5)
            for client in self._clients.values():
                client.close()
        self._emit_progress()
        return LoadReport(
            plan=self.plan,
            records=tuple(self._records),
            wall_s=self._clock() - self._started,
            schedule_lag_max_s=self._lag_max,
            per_tenant=_per_tenant(self._records),
        )

    def _submit(self, record: QueryRecord) -> None:
        planned = record.planned
        started = self._clock()
        lag = started - self._started - planned.at_s
        client = self._clients[planned.tenant.name]
        try:
            submission = client.submit(
                planned.sql(self.plan.sql_template), database=self.plan.database, priority=planned.priority
            )
        except ApiError as exc:
            with self._lock:
                record.submit_started = started
                record.submit_latency_s = self._clock() - started if exc.status is not None else None
                record.error_code = exc.code
                self._lag_max = max(self._lag_max, lag)
            return
        with self._lock:
            record.submit_started = started
            record.submit_latency_s = self._clock() - started
            record.query_id = submission.query_id
            self._lag_max = max(self._lag_max, lag)

    def _pending(self) -> list[QueryRecord]:
        with self._lock:
            return [r for r in self._records if r.query_id and r.final_status is None]

    def _poll_one(self, record: QueryRecord) -> None:
        assert record.query_id is not None
        if self._stop.is_set():
            return
        try:
            status: QueryStatus = self._clients[record.planned.tenant.name].status(record.query_id)
        except ApiError:
            return  # polling errors are not the tenant's submit errors; try again next round
        if status.terminal:
            with self._lock:
                record.final_status = status.status
                record.finished_at = self._clock()

    def _poll_until_done(self) -> None:
        """Rounds of GET /queries/{id} for every active query, in parallel (as many as submit workers)."""
        deadline: float | None = None
        with ThreadPoolExecutor(max_workers=self.plan.max_workers, thread_name_prefix="loadgen-poll") as pool:
            while not self._stop.is_set():
                if not self._submitting.is_set() and deadline is None:
                    deadline = self._clock() + self.plan.completion_timeout_s
                pending = self._pending()
                if deadline is not None and (not pending or self._clock() >= deadline):
                    return
                if self.plan.poll_mode == "list":
                    pending = self._settle_from_lists(pending)
                list(pool.map(self._poll_one, pending))
                self._stop.wait(self.plan.poll_interval_s)

    def _settle_from_lists(self, pending: list[QueryRecord]) -> list[QueryRecord]:
        """Settle what the tenants' lists show as terminal; returns the records still to GET one by one
        (those not listed yet: the list's index is eventually consistent)."""
        by_tenant: dict[str, dict[str, QueryRecord]] = defaultdict(dict)
        for record in pending:
            assert record.query_id is not None
            by_tenant[record.planned.tenant.name][record.query_id] = record
        unseen: list[QueryRecord] = []
        # Queries older than the run (with a margin for clock skew) cannot be this run's.
        oldest_ms = self._started_wall_ms - 300_000
        for tenant, records in by_tenant.items():
            seen: dict[str, str] = {}
            page_token: str | None = None
            try:
                while not self._stop.is_set():
                    page = self._clients[tenant].list_page(limit=100, page_token=page_token)
                    seen.update((q.query_id, q.status) for q in page.queries)
                    page_token = page.next_page_token
                    old = any((q.submitted_at or 0) < oldest_ms for q in page.queries)
                    if not page_token or old or all(query_id in seen for query_id in records):
                        break
            except ApiError:
                unseen.extend(records.values())
                continue
            now = self._clock()
            with self._lock:
                for query_id, record in records.items():
                    status = seen.get(query_id)
                    if status is None:
                        unseen.append(record)
                    elif status in TERMINAL_STATUSES:
                        record.final_status = status
                        record.finished_at = now
        return unseen

    def _watch_usage(self) -> None:
        assert self._watch_usage_s is not None
        while not self._stop.is_set():
            for name, client in self._clients.items():
                try:
                    usage = client.usage()
                except ApiError:
                    continue
                with self._lock:
                    self._usage[name] = usage
            self._stop.wait(self._watch_usage_s)

    def _emit_progress(self) -> None:
        if self._on_progress is None:
            return
        with self._lock:
            records = list(self._records)
            lag = self._lag_max
            usage = dict(self._usage)
        statuses = Counter(r.final_status for r in records if r.final_status)
        grouped: dict[str, list[QueryRecord]] = defaultdict(list)
        for record in records:
            grouped[record.planned.tenant.name].append(record)
        by_tenant = {
            name: TenantProgress(
                planned=len(mine),
                accepted=sum(1 for r in mine if r.query_id),
                errors=sum(1 for r in mine if r.error_code),
                active=sum(1 for r in mine if r.query_id and r.final_status is None),
                succeeded=sum(1 for r in mine if r.final_status == "SUCCEEDED"),
                failed=sum(1 for r in mine if r.final_status in ("FAILED", "CANCELLED")),
            )
            for name, mine in sorted(grouped.items())
        }
        self._on_progress(
            Snapshot(
                elapsed_s=self._clock() - self._started,
                planned=len(records),
                submitted=sum(1 for r in records if r.submit_started is not None),
                accepted=sum(1 for r in records if r.query_id),
                errors=sum(1 for r in records if r.error_code),
                active=sum(1 for r in records if r.query_id and r.final_status is None),
                by_status=dict(statuses),
                schedule_lag_s=lag,
                by_tenant=by_tenant,
                usage=usage,
            )
        )
