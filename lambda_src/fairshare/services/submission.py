"""Accepting a query: validate, apply the tenant's policy, write the ledger once, wake the dispatcher."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import uuid
from dataclasses import dataclass

from fairshare.domain import BudgetExceeded, Forbidden, ValidationFailed, classify_statement
from fairshare.domain.errors import Conflict, DependencyUnavailable
from fairshare.ports import DuplicateQuery, QueryRecord, QueryStatus
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import Lifecycle
from fairshare.services.tables import outside_databases, table_references

# Athena's ClientRequestToken rule; the query id derives from it, so it must also be valid there.
CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
QUERY_ID_NAMESPACE = uuid.UUID("6f1b3c3e-6a43-5d0e-9a0b-3f1e9c2a7d51")


@dataclass(slots=True, frozen=True)
class Submission:
    sql: str
    database: str | None
    priority: int | None = None
    client_token: str | None = None
    output_format: str = "csv"
    submitted_by: str | None = None
    submitted_by_source: str | None = None  # "iam" or "sigv4" (verified), or "declared"


@dataclass(slots=True, frozen=True)
class SubmitOutcome:
    record: QueryRecord
    created: bool
    position: int | None


class Sequencer:
    """FIFO numbers for the queue order (I-5) without a round trip to the ledger.

    Microseconds since the epoch, times 1,000, plus a random tie-breaker; never below the last number
    this execution environment issued, so one environment's submissions are strictly ordered even if
    the clock stands still. Across environments the order is that of the (synchronised) clocks; two
    numbers can only be equal for submissions of the same instant, which either order serves.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._last = 0
        self._lock = threading.Lock()

    def next(self, now: float) -> int:
        candidate = int(now * 1_000_000) * 1000 + self._rng.randrange(1000)
        with self._lock:
            self._last = max(self._last + 1, candidate)
            return self._last


SEQUENCER = Sequencer()


def query_id_for(tenant: str, client_token: str) -> str:
    return str(uuid.uuid5(QUERY_ID_NAMESPACE, f"{tenant}\n{client_token}"))


def _request_hash(sql: str, database: str, priority: int, output_format: str) -> str:
    canonical = json.dumps([sql, database, priority, output_format], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def submit(deps: Deps, tenant: str, submission: Submission) -> SubmitOutcome:
    config = deps.config.tenants[tenant]
    policy = deps.config.policies[tenant]
    statement_class = classify_statement(submission.sql)
    if statement_class == "DDL" and not policy.allow_ddl:
        raise Forbidden("DDL statements are not allowed for this tenant")
    database = submission.database if submission.database is not None else config.databases[0]
    if database not in config.databases:
        raise ValidationFailed(f"database must be one of {list(config.databases)}")
    _check_tables(submission.sql, database, config.databases)
    priority = policy.default_priority if submission.priority is None else submission.priority
    policy.check_priority(priority)
    token = submission.client_token
    if token is not None and not CLIENT_TOKEN.match(token):
        raise ValidationFailed("client_token must be 32-128 characters of [A-Za-z0-9_-]")
    request_hash = _request_hash(submission.sql, database, priority, submission.output_format)
    query_id = query_id_for(tenant, token) if token else str(uuid.uuid4())

    if token:
        existing = deps.ledger.get(query_id)
        if existing is not None:
            return _replay(deps, existing, request_hash)

    if policy.budget_action == "reject" and policy.daily_bytes_budget is not None:
        state = deps.ledger.tenants([tenant])[tenant]
        if policy.over_budget(state.bytes_on(deps.today())):
            raise BudgetExceeded(f"daily bytes budget of {policy.daily_bytes_budget} spent")

    seq = SEQUENCER.next(deps.clock.now())
    record = QueryRecord(
        query_id=query_id,
        tenant=tenant,
        status=QueryStatus.QUEUED,
        sql=submission.sql,
        database=database,
        workgroup=config.workgroup,
        statement_class=statement_class,
        priority=priority,
        seq=seq,
        submitted_at=deps.now_ms(),
        client_token=token,
        submitted_by=submission.submitted_by,
        submitted_by_source=submission.submitted_by_source if submission.submitted_by else None,
        request_hash=request_hash,
        output_format=submission.output_format,
    )
    try:
        position = Lifecycle(deps).submit(record, policy.max_queued)
    except DuplicateQuery:
        existing = deps.ledger.get(query_id)
        if existing is None:
            raise DependencyUnavailable("ledger answered a duplicate but holds no query") from None
        return _replay(deps, existing, request_hash)
    return SubmitOutcome(record=record, created=True, position=position)


def _check_tables(sql: str, database: str, databases: tuple[str, ...]) -> None:
    """Refuse, before anything is queued, a statement that names a table outside the tenant's databases
    (I-4). A statement the parser cannot read passes: the tenant's execution role decides in Athena."""
    references = table_references(sql, database)
    outside = outside_databases(references or [], databases)
    if outside:
        raise Forbidden(
            f"table {outside[0]} is outside this tenant's databases {list(databases)}"
            + (f" (and {len(outside) - 1} more)" if len(outside) > 1 else "")
        )


def _replay(deps: Deps, existing: QueryRecord, request_hash: str) -> SubmitOutcome:
    if existing.request_hash != request_hash:
        raise Conflict("client_token was already used for a different request")
    return SubmitOutcome(record=existing, created=False, position=Lifecycle(deps).position(existing))
