"""Fault-injecting implementations of the ports, for the reliability campaign (`tests/reliability`).

- `ChaosAthena`: an Athena that runs queries for simulated durations on an injected clock, shares its
  quota with foreign load (quota storms), and fails starts with rate throttles (storms), 5xx before or
  after the start took effect, and permanent errors. It records what the invariants need: executions
  per query (I-3), our active executions at each start (I-2), start calls after a permanent answer (I-8).
- `FaultyDynamoClient`: wraps a boto3 DynamoDB client and fails calls with
  `ProvisionedThroughputExceededException`, transactions with a `TransactionConflict` cancellation, and
  optimistic updates with `ConditionalCheckFailedException` (another writer won the race).
- `CrashingLedger`: the DynamoDB ledger with crashes at the named points: after StartQueryExecution and
  before the RUNNING write, and right after the terminal write (which releases the slot in the same
  transaction) and before the notification and wake-up.

Every fault is drawn from one seeded `random.Random`, and counted in a `FaultCounter`.
"""

from __future__ import annotations

import heapq
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.ports import (
    Clock,
    Execution,
    Finalization,
    Permanent,
    QueryRecord,
    QuotaThrottle,
    RateThrottle,
    ResultPage,
    Transient,
)

PERMANENT_MARKER = "/*bad-sql*/"
ATHENA_FAILURE_MARKER = "/*fails-in-athena*/"


class InjectedCrash(RuntimeError):
    """A Lambda dying at a named point (the runtime would discard the invocation)."""


class FaultCounter:
    """Thread-safe counts of injected faults, by kind."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


class Dice:
    """A seeded random source shared by threads (draws are serialized)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def hit(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)


@dataclass
class AthenaFaults:
    rate_throttle: float = 0.0  # ThrottlingException per start, outside storms
    storm_rate_throttle: float = 0.0  # ... during a rate-throttle storm
    server_error_before: float = 0.0  # 5xx, the start did not happen
    server_error_after: float = 0.0  # 5xx, the start happened (the reply was lost)
    read_error: float = 0.0  # 5xx on GetQueryExecution / BatchGetQueryExecution


@dataclass
class _Run:
    execution_id: str
    token: str
    sql: str
    workgroup: str
    started_at: float
    finishes_at: float
    final_state: str
    state: str = "RUNNING"
    bytes_scanned: int = 0


@dataclass
class StartSample:
    """What Athena saw at one new execution: our active executions after it, and the ceiling."""

    at: float
    active: int
    ceiling: int


@dataclass
class ChaosAthena:
    """Implements `fairshare.ports.Athena` on a simulated clock, with faults."""

    clock: Clock
    dice: Dice
    faults: AthenaFaults
    counter: FaultCounter
    quota: int
    ceiling: int
    outputs: Mapping[str, str]
    duration: Callable[[], float]
    foreign_active: int = 0
    rate_storm: bool = False
    honour_tokens: bool = True  # False: a broken Athena that starts again on a known token

    runs: dict[str, _Run] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)
    executions_per_token: Counter[str] = field(default_factory=Counter)
    executions_per_sql: Counter[str] = field(default_factory=Counter)
    permanent_answers: Counter[str] = field(default_factory=Counter)
    samples: list[StartSample] = field(default_factory=list)
    start_calls: int = 0
    _active: set[str] = field(default_factory=set)
    _finishing: list[tuple[float, str]] = field(default_factory=list)
    _finished: list[str] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def as_tenant(self, tenant: str) -> ChaosAthena:
        """The campaign's tenants share one identity (IAM is not among its faults)."""
        return self

    # --- time ------------------------------------------------------------------------------------
    def _advance(self) -> None:
        now = self.clock.now()
        while self._finishing and self._finishing[0][0] <= now:
            _, execution_id = heapq.heappop(self._finishing)
            run = self.runs[execution_id]
            if run.state == "RUNNING":
                run.state = run.final_state
                run.bytes_scanned = 10_485_760
                self._active.discard(execution_id)
                self._finished.append(execution_id)

    def pop_finished(self) -> list[str]:
        """Executions that reached a terminal state since the last call (their events are due)."""
        with self._lock:
            self._advance()
            done, self._finished = self._finished, []
            return done

    @property
    def active(self) -> int:
        with self._lock:
            self._advance()
            return len(self._active)

    # --- the port --------------------------------------------------------------------------------
    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        with self._lock:
            self._advance()
            self.start_calls += 1
            if self.permanent_answers[query_id]:
                self.permanent_answers[query_id] += 1  # a retry after a permanent answer (I-8)
            throttle_rate = self.faults.storm_rate_throttle if self.rate_storm else self.faults.rate_throttle
            if self.dice.hit(throttle_rate):
                self.counter.add("athena_rate_throttle")
                raise RateThrottle("ThrottlingException", "Rate exceeded")
            if self.dice.hit(self.faults.server_error_before):
                self.counter.add("athena_5xx")
                raise Transient("InternalServerException", "injected: the start did not happen")
            existing = self.by_token.get(query_id) if self.honour_tokens else None
            if existing is not None:
                return existing  # I-3: the same token answers the same execution
            if PERMANENT_MARKER in sql:
                self.permanent_answers[query_id] += 1
                raise Permanent("InvalidRequestException", "line 1:1: mismatched input (injected)")
            if len(self._active) + self.foreign_active >= self.quota:
                self.counter.add("athena_quota_throttle")
                raise QuotaThrottle("TooManyRequestsException", "CONCURRENT_QUERY_LIMIT_EXCEEDED")
            now = self.clock.now()
            execution_id = str(uuid.UUID(int=len(self.runs) + 1))
            final = "FAILED" if ATHENA_FAILURE_MARKER in sql else "SUCCEEDED"
            run = _Run(execution_id, query_id, sql, workgroup, now, now + self.duration(), final)
            self.runs[execution_id] = run
            self.by_token[query_id] = execution_id
            self.executions_per_token[query_id] += 1
            self.executions_per_sql[sql] += 1
            self._active.add(execution_id)
            heapq.heappush(self._finishing, (run.finishes_at, execution_id))
            self.samples.append(StartSample(now, len(self._active), self.ceiling))
            if self.dice.hit(self.faults.server_error_after):
                self.counter.add("athena_5xx_after_start")
                raise Transient("InternalServerException", "injected: the reply of a start was lost")
            return execution_id

    def stop(self, execution_id: str) -> None:
        with self._lock:
            self._advance()
            run = self.runs.get(execution_id)
            if run is None:
                raise Permanent("InvalidRequestException", f"unknown execution {execution_id}")
            if run.state == "RUNNING":
                run.state = "CANCELLED"
                self._active.discard(execution_id)
                self._finished.append(execution_id)

    def _view(self, run: _Run) -> Execution:
        terminal = run.state != "RUNNING"
        return Execution(
            execution_id=run.execution_id,
            state=run.state,
            workgroup=run.workgroup,
            bytes_scanned=run.bytes_scanned,
            engine_ms=int((run.finishes_at - run.started_at) * 1000) if terminal else 0,
            athena_queue_ms=5,
            error_code="GENERIC_INTERNAL_ERROR" if run.state == "FAILED" else None,
            error_message="injected failure in Athena" if run.state == "FAILED" else None,
            output_location=f"{self.outputs.get(run.workgroup, 's3://elsewhere/')}{run.execution_id}.csv",
        )

    def get(self, execution_id: str) -> Execution:
        with self._lock:
            self._advance()
            if self.dice.hit(self.faults.read_error):
                self.counter.add("athena_5xx")
                raise Transient("InternalServerException", "injected: GetQueryExecution failed")
            run = self.runs.get(execution_id)
            if run is None:
                raise Permanent("InvalidRequestException", f"unknown execution {execution_id}")
            return self._view(run)

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        if len(execution_ids) > 50:
            raise Permanent("InvalidRequestException", "at most 50 ids")
        with self._lock:
            self._advance()
            if self.dice.hit(self.faults.read_error):
                self.counter.add("athena_5xx")
                raise Transient("InternalServerException", "injected: BatchGetQueryExecution failed")
            return [self._view(self.runs[i]) for i in execution_ids if i in self.runs]

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage:
        return ResultPage(columns=[("n", "integer")], rows=[["1"]], next_token=None)


# --- DynamoDB ---------------------------------------------------------------------------------------
@dataclass
class DynamoFaults:
    throughput_exceeded: float = 0.0  # any call
    transaction_conflict: float = 0.0  # TransactWriteItems
    lost_race: float = 0.0  # optimistic UpdateItem on the state table (limit, start bucket)


def _client_error(operation: str, code: str, message: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **extra}, operation)


class FaultyDynamoClient:
    """Wraps a boto3 DynamoDB client; injects the faults of `DynamoFaults` before the call is made."""

    def __init__(self, client: Any, dice: Dice, faults: DynamoFaults, counter: FaultCounter) -> None:
        self._client = client
        self._dice = dice
        self._faults = faults
        self._counter = counter
        self.enabled = True

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def faulty(*args: Any, **kwargs: Any) -> Any:
            if self.enabled:
                self._inject(name, kwargs)
            return method(*args, **kwargs)

        return faulty

    def _inject(self, operation: str, kwargs: dict[str, Any]) -> None:
        if self._dice.hit(self._faults.throughput_exceeded):
            self._counter.add("ddb_throughput_exceeded")
            raise _client_error(
                operation, "ProvisionedThroughputExceededException", "injected: throughput exceeded"
            )
        if operation == "transact_write_items" and self._dice.hit(self._faults.transaction_conflict):
            self._counter.add("ddb_transaction_conflict")
            reasons = [{"Code": "None"} for _ in kwargs.get("TransactItems", [])]
            reasons[-1] = {"Code": "TransactionConflict", "Message": "injected"}
            raise _client_error(
                operation,
                "TransactionCanceledException",
                "Transaction cancelled (injected conflict)",
                CancellationReasons=reasons,
            )
        key = kwargs.get("Key", {}).get("pk", {}).get("S", "")
        optimistic = key.startswith(("pool#", "rate#")) and "ConditionExpression" in kwargs
        if operation == "update_item" and optimistic and self._dice.hit(self._faults.lost_race):
            self._counter.add("ddb_conditional_check_conflict")
            raise _client_error(operation, "ConditionalCheckFailedException", "injected: lost the race")


# --- crashes and the claim monitor ---------------------------------------------------------------------
@dataclass
class CrashFaults:
    after_start: float = 0.0  # dispatcher: after StartQueryExecution, before the RUNNING write
    after_finalize: float = 0.0  # completion: after the terminal write (+ release), before notify/wake


class CrashingLedger(DynamoLedger):
    """The DynamoDB ledger with injected crashes at the named points."""

    def __init__(
        self,
        client: Any,
        queries_table: str,
        state_table: str,
        *,
        dice: Dice,
        faults: CrashFaults,
        counter: FaultCounter,
    ) -> None:
        super().__init__(client, queries_table, state_table)
        self._dice = dice
        self._crash = faults
        self._counter = counter
        self.enabled = True

    def mark_running(self, query_id: str, execution_id: str, now_ms: int) -> bool:
        if self.enabled and self._dice.hit(self._crash.after_start):
            self._counter.add("crash_after_start")
            raise InjectedCrash("dispatcher died after StartQueryExecution, before the RUNNING write")
        return super().mark_running(query_id, execution_id, now_ms)

    def finalize(self, record: QueryRecord, outcome: Finalization) -> bool:
        released = super().finalize(record, outcome)
        if released and self.enabled and self._dice.hit(self._crash.after_finalize):
            self._counter.add("crash_after_finalize")
            raise InjectedCrash("completion died after the terminal write, before notify and wake-up")
        return released
