"""Submitting a query (`fairshare.services.submission`) on the in-memory ledger: idempotency, the
tenant's policy, and what happens when the ledger or the wake-up fails."""

from __future__ import annotations

import pytest
from fairshare.domain.errors import BudgetExceeded, Conflict, DependencyUnavailable, Forbidden, QueueFull
from fairshare.ports import DuplicateQuery, Finalization, QueryRecord
from fairshare.services.submission import Submission, submit
from fairshare_tools.testing.stage import MemoryStage, memory_stage
from memory_stage_config import stage_config

TOKEN = "client-token-0123456789abcdef-0001"


@pytest.fixture
def stage() -> MemoryStage:
    return memory_stage(stage_config())


def _submit(stage: MemoryStage, sql: str = "SELECT 1", tenant: str = "alpha") -> QueryRecord:
    outcome = submit(stage.deps, tenant, Submission(sql=sql, database=None))
    assert outcome.created
    return outcome.record


def test_the_same_token_returns_the_same_query_and_queues_it_once(stage: MemoryStage) -> None:
    first = submit(stage.deps, "alpha", Submission("SELECT 42", None, client_token=TOKEN))
    again = submit(stage.deps, "alpha", Submission("SELECT 42", None, client_token=TOKEN))

    assert (first.created, again.created) == (True, False)
    assert again.record.query_id == first.record.query_id
    assert (first.position, again.position) == (1, 1)
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 1
    assert stage.wakeups.sent == [("submit", first.record.query_id)]


def test_the_same_token_with_a_different_body_is_a_conflict(stage: MemoryStage) -> None:
    submit(stage.deps, "alpha", Submission("SELECT 42", None, client_token=TOKEN))

    with pytest.raises(Conflict):
        submit(stage.deps, "alpha", Submission("SELECT 43", None, client_token=TOKEN))
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 1


def test_the_same_token_of_another_tenant_is_another_query(stage: MemoryStage) -> None:
    alpha = submit(stage.deps, "alpha", Submission("SELECT 42", None, client_token=TOKEN))
    beta = submit(stage.deps, "beta", Submission("SELECT 42", None, client_token=TOKEN))

    assert beta.created and beta.record.query_id != alpha.record.query_id


def test_the_position_counts_the_tenants_queries_ahead_by_priority(stage: MemoryStage) -> None:
    positions = [submit(stage.deps, "alpha", Submission(f"SELECT {n}", None)).position for n in range(3)]
    urgent = submit(stage.deps, "alpha", Submission("SELECT 'urgent'", None, priority=2))
    other = submit(stage.deps, "beta", Submission("SELECT 1", None))

    assert positions == [1, 2, 3]
    assert (urgent.position, other.position) == (1, 1)
    assert len(stage.wakeups.sent) == 5
    assert stage.metrics.total("SubmittedQueries", tenant="alpha") == 4


def test_ddl_is_refused_without_allow_ddl_and_writes_nothing(stage: MemoryStage) -> None:
    with pytest.raises(Forbidden):
        submit(stage.deps, "alpha", Submission("CREATE TABLE t (a int)", None))
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 0
    assert stage.ledger.calls.get("submit", 0) == 0


def test_ddl_with_allow_ddl_goes_to_the_ddl_pool(stage: MemoryStage) -> None:
    record = _submit(stage, "CREATE TABLE t (a int)", tenant="gamma")

    stored = stage.ledger.get(record.query_id)
    assert stored is not None and (stored.statement_class, stored.database) == ("DDL", "default")


def test_a_full_queue_is_refused_and_writes_nothing(stage: MemoryStage) -> None:
    for n in range(6):  # alpha's max_queued
        _submit(stage, f"SELECT {n}")

    with pytest.raises(QueueFull):
        submit(stage.deps, "alpha", Submission("SELECT 'one too many'", None))
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 6
    assert len(stage.ledger.list_for_tenant("alpha", None, 100, None).records) == 6
    assert len(stage.wakeups.sent) == 6


def _spend(stage: MemoryStage, tenant: str, bytes_scanned: int) -> None:
    """Run one of the tenant's queries to its end, scanning `bytes_scanned` today."""
    record = _submit(stage, "SELECT 'spend'", tenant=tenant)
    stage.ledger.ensure_pool("DML", 10.0, stage.clock.now())
    assert stage.ledger.claim(record, "DML", 10, stage.deps.now_ms())
    admitted = stage.ledger.get(record.query_id)
    assert admitted is not None
    outcome = Finalization(
        status="SUCCEEDED",
        finished_at=stage.deps.now_ms(),
        bytes_scanned=bytes_scanned,
        day=stage.deps.today(),
    )
    assert stage.ledger.finalize(admitted, outcome)


def test_budget_reject_refuses_once_the_daily_budget_is_spent(stage: MemoryStage) -> None:
    _spend(stage, "gamma", 1000)

    with pytest.raises(BudgetExceeded):
        submit(stage.deps, "gamma", Submission("SELECT 2", None))


def test_yesterdays_bytes_do_not_count_against_todays_budget(stage: MemoryStage) -> None:
    _spend(stage, "gamma", 5000)
    stage.clock.advance(86_400)

    assert _submit(stage, "SELECT 2", tenant="gamma").status == "QUEUED"


def test_ledger_down_is_a_dependency_failure_and_nothing_is_written_or_sent(stage: MemoryStage) -> None:
    stage.ledger.failing.add("submit")

    with pytest.raises(DependencyUnavailable):
        submit(stage.deps, "alpha", Submission("SELECT 1", None))
    stage.ledger.failing.clear()
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 0
    assert stage.ledger.list_for_tenant("alpha", None, 10, None).records == []
    assert stage.wakeups.sent == []


def test_a_duplicate_the_ledger_cannot_show_is_a_dependency_failure(
    stage: MemoryStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the conditional write says the id exists, yet the read finds no query (e.g. a stale replica)
    def duplicate(record: QueryRecord, max_queued: int) -> None:
        raise DuplicateQuery(record.query_id)

    monkeypatch.setattr(stage.ledger, "submit", duplicate)
    with pytest.raises(DependencyUnavailable):
        submit(stage.deps, "alpha", Submission("SELECT 1", None))
    assert stage.wakeups.sent == []


def test_a_failed_wake_up_still_accepts_the_query(stage: MemoryStage) -> None:
    stage.wakeups.down = True

    outcome = submit(stage.deps, "alpha", Submission("SELECT 1", None))
    assert outcome.created and outcome.position == 1
    assert stage.ledger.get(outcome.record.query_id) is not None  # the tick admits it (I-1)


def test_an_unreadable_position_still_accepts_the_query(stage: MemoryStage) -> None:
    stage.ledger.failing.add("position")

    outcome = submit(stage.deps, "alpha", Submission("SELECT 1", None))
    assert outcome.created and outcome.position is None
    assert stage.ledger.tenants(["alpha"])["alpha"].queued == 1
