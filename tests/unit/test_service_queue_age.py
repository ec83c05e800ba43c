"""The dispatcher's queue age and blocking reason: published for every waiting tenant, whatever holds
it, in rounds that admit nothing too; recorded for the tenant's reads (in-memory ledger, no moto)."""

from __future__ import annotations

import pytest
from fairshare.services.dispatch import Dispatcher
from fairshare.services.queries import get_query
from fairshare.services.submission import Submission, submit
from fairshare_tools.testing.stage import MemoryStage, memory_stage
from memory_stage_config import stage_config


@pytest.fixture
def stage() -> MemoryStage:
    built = memory_stage(stage_config())
    for pool, ceiling in (("DML", 10.0), ("DDL", 3.0)):
        built.ledger.ensure_pool(pool, ceiling, built.clock.now())
    built.deps.concurrency = 1
    return built


def _queued(stage: MemoryStage, tenant: str) -> str:
    return submit(stage.deps, tenant, Submission("SELECT 1", None)).record.query_id


def _ages(stage: MemoryStage) -> dict[tuple[str, str], float]:
    """The latest OldestQueuedAgeSeconds per (tenant, reason)."""
    ages: dict[tuple[str, str], float] = {}
    for name, value, dims in stage.metrics.points:
        if name == "OldestQueuedAgeSeconds":
            ages[(dims["tenant"], dims["reason"])] = value
    return ages


def test_a_capped_tenant_is_measured_with_its_cap_as_the_reason(stage: MemoryStage) -> None:
    first = _queued(stage, "alpha")
    for _ in range(5):  # alpha's cap is 4
        _queued(stage, "alpha")
    stage.clock.advance(30)
    Dispatcher(stage.deps).run_round()

    assert _ages(stage) == {("alpha", "tenant_cap"): 30.0}
    assert stage.ledger.tenants(["alpha"])["alpha"].waiting_reason == "tenant_cap"
    assert get_query(stage.deps, "alpha", first)["blocking_reason"] is None  # it is running
    waiting_id = stage.ledger.queued_heads("alpha", 1)[0].query_id
    assert get_query(stage.deps, "alpha", waiting_id)["blocking_reason"] == "tenant_cap"


def test_age_is_published_when_the_pools_are_full_and_nothing_is_admitted(stage: MemoryStage) -> None:
    for tenant, count in (("alpha", 6), ("beta", 5)):  # caps 4 and 3
        for _ in range(count):
            _queued(stage, tenant)
    Dispatcher(stage.deps).run_round()  # 7 of the DML pool's 10 slots taken
    for _ in range(3):
        _queued(stage, "gamma")
    # Throttles lowered the DML limit to what runs: the pool is full below its ceiling.
    stage.clock.advance(60)
    stage.ledger.save_limit("DML", 7.0, stage.clock.now(), stage.clock.now(), expected_changed_at=None)
    stage.metrics.points.clear()
    report = Dispatcher(stage.deps).run_round()

    assert report.started == []
    assert _ages(stage) == {
        ("alpha", "tenant_cap"): 60.0,
        ("beta", "tenant_cap"): 60.0,
        ("gamma", "throttle_backoff"): 60.0,
    }


def test_a_reason_is_written_only_when_it_changes_and_cleared_when_nothing_waits(stage: MemoryStage) -> None:
    for _ in range(6):
        _queued(stage, "alpha")
    Dispatcher(stage.deps).run_round()
    writes = stage.ledger.calls["save_waiting"]
    Dispatcher(stage.deps).run_round()
    assert stage.ledger.calls["save_waiting"] == writes == 1  # tenant_cap both times: written once

    for record in stage.ledger.queued_heads("alpha", 10):
        stage.ledger.cancel_queued(record, stage.deps.now_ms())
    Dispatcher(stage.deps).run_round()
    assert stage.ledger.tenants(["alpha"])["alpha"].waiting_reason is None
