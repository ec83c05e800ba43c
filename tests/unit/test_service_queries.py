"""A tenant's reads and cancels (`fairshare.services.queries`) on the in-memory ledger: cancels that
race the completion, Athena refusing to stop, lists and their pages, another tenant's ids."""

from __future__ import annotations

import pytest
from fairshare.domain.errors import Conflict, DependencyUnavailable, NotFound
from fairshare.ports import Finalization, QueryRecord, Transient
from fairshare.services import queries
from fairshare.services.submission import Submission, submit
from fairshare_tools.testing.stage import MemoryStage, memory_stage
from memory_stage_config import stage_config


@pytest.fixture
def stage() -> MemoryStage:
    built = memory_stage(stage_config())
    built.ledger.ensure_pool("DML", 10.0, built.clock.now())
    return built


def _queued(stage: MemoryStage, sql: str = "SELECT 1", tenant: str = "alpha") -> str:
    return submit(stage.deps, tenant, Submission(sql, None)).record.query_id


def _running(stage: MemoryStage, tenant: str = "alpha") -> QueryRecord:
    """A query claimed, started in Athena and marked RUNNING, as the dispatcher leaves it."""
    query_id = _queued(stage, tenant=tenant)
    record = stage.ledger.get(query_id)
    assert record is not None
    assert stage.ledger.claim(record, "DML", 10, stage.deps.now_ms())
    execution_id = stage.athena.start(query_id, record.sql, record.workgroup, record.database)
    assert stage.ledger.mark_running(query_id, execution_id, stage.deps.now_ms())
    running = stage.ledger.get(query_id)
    assert running is not None
    return running


def _complete(stage: MemoryStage, record: QueryRecord, status: str = "SUCCEEDED") -> bool:
    """What the completion function writes when Athena reports the end of the query."""
    assert record.athena_execution_id
    stage.athena.finish(record.athena_execution_id, state=status)
    outcome = Finalization(status=status, finished_at=stage.deps.now_ms(), day=stage.deps.today())
    return stage.ledger.finalize(record, outcome)


def _counters(stage: MemoryStage) -> tuple[int, int, int]:
    alpha = stage.ledger.tenants(["alpha"])["alpha"]
    return stage.ledger.pools(["DML"])["DML"].active, alpha.running, alpha.queued


def test_cancel_while_queued_removes_it_from_the_queue_once(stage: MemoryStage) -> None:
    query_id = _queued(stage)

    assert queries.cancel(stage.deps, "alpha", query_id) == {"query_id": query_id, "status": "CANCELLED"}
    with pytest.raises(Conflict):
        queries.cancel(stage.deps, "alpha", query_id)
    assert _counters(stage) == (0, 0, 0)
    assert stage.ledger.queued_heads("alpha", 10) == []
    assert stage.metrics.total("CancelledQueries", tenant="alpha") == 1


def test_cancel_while_running_stops_athena_and_releases_the_slot_once(stage: MemoryStage) -> None:
    record = _running(stage)

    assert queries.cancel(stage.deps, "alpha", record.query_id)["status"] == "CANCELLED"
    # Athena then reports the cancellation: the slot is not released a second time
    assert not _complete(stage, record, "CANCELLED")
    assert stage.athena.stop_calls == [record.athena_execution_id]
    assert _counters(stage) == (0, 0, 0)
    assert stage.wakeups.sent[-1] == ("completion", record.query_id)
    with pytest.raises(Conflict):
        queries.cancel(stage.deps, "alpha", record.query_id)


def test_cancel_after_the_completion_won_is_a_conflict(stage: MemoryStage) -> None:
    record = _running(stage)
    assert _complete(stage, record)

    with pytest.raises(Conflict, match="SUCCEEDED"):
        queries.cancel(stage.deps, "alpha", record.query_id)
    assert _counters(stage) == (0, 0, 0)


def test_cancel_when_athena_cannot_stop_changes_nothing_and_a_retry_works(
    stage: MemoryStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _running(stage)

    def unavailable(execution_id: str) -> None:
        raise Transient("InternalServerException", "injected")

    monkeypatch.setattr(stage.athena, "stop", unavailable)
    with pytest.raises(DependencyUnavailable):
        queries.cancel(stage.deps, "alpha", record.query_id)
    assert stage.ledger.get(record.query_id).status == "RUNNING"  # type: ignore[union-attr]
    assert _counters(stage) == (1, 1, 0)  # the slot is still held: the query still runs
    monkeypatch.undo()
    assert queries.cancel(stage.deps, "alpha", record.query_id)["status"] == "CANCELLED"
    assert _counters(stage) == (0, 0, 0)


def test_cancel_that_loses_the_race_to_the_completion_is_a_conflict(
    stage: MemoryStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _running(stage)
    stop = stage.athena.stop

    def stop_while_the_query_finishes(execution_id: str) -> None:
        _complete(stage, record)  # the completion lands between cancel's read and its write
        stop(execution_id)

    monkeypatch.setattr(stage.athena, "stop", stop_while_the_query_finishes)
    with pytest.raises(Conflict, match="SUCCEEDED"):
        queries.cancel(stage.deps, "alpha", record.query_id)
    assert _counters(stage) == (0, 0, 0)  # released once, by the completion
    assert stage.metrics.total("CancelledQueries") == 0


def test_a_queued_cancel_that_loses_the_race_to_a_claim_cancels_the_admitted_query(
    stage: MemoryStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    query_id = _queued(stage)
    cancel_queued = stage.ledger.cancel_queued

    def claimed_first(record: QueryRecord, now_ms: int) -> bool:
        assert stage.ledger.claim(record, "DML", 10, now_ms)  # a round admits it meanwhile
        return cancel_queued(record, now_ms)

    monkeypatch.setattr(stage.ledger, "cancel_queued", claimed_first)
    assert queries.cancel(stage.deps, "alpha", query_id)["status"] == "CANCELLED"
    assert stage.ledger.get(query_id).status == "CANCELLED"  # type: ignore[union-attr]
    assert _counters(stage) == (0, 0, 0)
    assert stage.athena.stop_calls == []  # it had not started


@pytest.mark.parametrize("call", ["get", "cancel"])
def test_another_tenants_query_is_not_found_like_an_unknown_one(stage: MemoryStage, call: str) -> None:
    query_id = _queued(stage, tenant="beta")
    action = queries.get_query if call == "get" else queries.cancel

    with pytest.raises(NotFound):
        action(stage.deps, "alpha", query_id)
    with pytest.raises(NotFound):
        action(stage.deps, "alpha", "00000000-0000-4000-8000-000000000000")
    assert stage.ledger.get(query_id).status == "QUEUED"  # type: ignore[union-attr]


def test_get_shows_a_queued_querys_position(stage: MemoryStage) -> None:
    first, second = _queued(stage), _queued(stage)

    assert queries.get_query(stage.deps, "alpha", second)["position"] == 2
    queries.cancel(stage.deps, "alpha", first)
    assert queries.get_query(stage.deps, "alpha", second)["position"] == 1
    assert queries.get_query(stage.deps, "alpha", first)["position"] is None


def test_list_pages_newest_first_with_a_status_filter(stage: MemoryStage) -> None:
    ids = []
    for n in range(5):
        ids.append(_queued(stage, f"SELECT {n}"))
        stage.clock.advance(1)
    _queued(stage, tenant="beta")
    queries.cancel(stage.deps, "alpha", ids[1])

    first = queries.list_queries(stage.deps, "alpha", None, 2, None)
    second = queries.list_queries(stage.deps, "alpha", None, 2, first["next_page_token"])
    cancelled = queries.list_queries(stage.deps, "alpha", "CANCELLED", 50, None)
    assert [q["query_id"] for q in first["queries"]] == [ids[4], ids[3]]
    assert [q["query_id"] for q in second["queries"]] == [ids[2], ids[1]]
    assert [q["query_id"] for q in cancelled["queries"]] == [ids[1]]
    assert cancelled["next_page_token"] is None


def test_usage_reports_running_share_and_effective_limits(stage: MemoryStage) -> None:
    for _ in range(3):
        _running(stage)
    _running(stage, tenant="beta")

    assert queries.usage(stage.deps, "alpha") == {
        "tenant": "alpha",
        "weight": 2.0,
        "running": 3,
        "queued": 0,
        "share": 0.75,
        "bytes_today": 0,
        "daily_bytes_budget": None,
        "effective_limit": {"DML": 10, "DDL": 3},
    }
