"""The query lifecycle through the services that drive it (dispatch rounds, completion, reconcile,
redrive's restart), on the in-memory ledger: no moto, no network."""

from __future__ import annotations

import pytest
from fairshare.ports import Permanent, QuotaThrottle, Transient
from fairshare.services.completion import on_state_change
from fairshare.services.dispatch import Dispatcher, refill
from fairshare.services.lifecycle import Lifecycle, StartResult
from fairshare.services.reconcile import STALE_ADMITTED_S, reconcile
from fairshare.services.submission import Submission, submit
from fairshare_tools.testing.stage import MemoryStage, memory_stage
from memory_stage_config import stage_config


@pytest.fixture
def stage() -> MemoryStage:
    built = memory_stage(stage_config())
    for pool, ceiling in (("DML", 10.0), ("DDL", 3.0)):
        built.ledger.ensure_pool(pool, ceiling, built.clock.now())
    built.deps.concurrency = 1  # a round's tenants one after another: each run takes the same path
    return built


def _queued(
    stage: MemoryStage, tenant: str = "alpha", sql: str = "SELECT 1", priority: int | None = None
) -> str:
    return submit(stage.deps, tenant, Submission(sql, None, priority=priority)).record.query_id


def _status(stage: MemoryStage, query_id: str) -> str:
    record = stage.ledger.get(query_id)
    assert record is not None
    return record.status


def _counters(stage: MemoryStage, tenant: str = "alpha") -> tuple[int, int, int]:
    state = stage.ledger.tenants([tenant])[tenant]
    return stage.ledger.pools(["DML"])["DML"].active, state.running, state.queued


def _dml_limits(stage: MemoryStage) -> list[float]:
    """The DML effective limits the services reported, in order."""
    return [v for name, v, dims in stage.metrics.points if name == "EffectiveLimit" and dims["pool"] == "DML"]


def _finish_in_athena(stage: MemoryStage, query_id: str, state: str = "SUCCEEDED") -> str:
    execution = stage.athena.execution_for(query_id)
    assert execution is not None
    stage.athena.finish(
        execution.execution_id, state=state, error_message="boom" if state == "FAILED" else None
    )
    return execution.execution_id


def test_a_round_admits_within_the_limit_and_the_tenants_cap(stage: MemoryStage) -> None:
    ids = [_queued(stage) for _ in range(6)]  # alpha's cap is 4; the DML limit 10
    report = Dispatcher(stage.deps).run_round()

    assert report.started == ids[:4]
    assert [_status(stage, q) for q in ids] == ["RUNNING"] * 4 + ["QUEUED"] * 2
    assert _counters(stage) == (4, 4, 2)
    assert stage.metrics.total("StartQueryCount", tenant="alpha") == 4
    assert len(stage.metrics.values("AdmissionWaitMs")) == 4


def test_the_completion_finishes_once_and_its_refill_admits_the_next(stage: MemoryStage) -> None:
    ids = [_queued(stage) for _ in range(5)]
    Dispatcher(stage.deps).run_round()
    execution_id = _finish_in_athena(stage, ids[0])

    first = on_state_change(stage.deps, execution_id, "SUCCEEDED", "wg-alpha")
    again = on_state_change(stage.deps, execution_id, "SUCCEEDED", "wg-alpha")
    report = refill(stage.deps)

    assert (first, again) == ("finalized", "duplicate")
    assert report is not None and report.started == [ids[4]]
    assert _status(stage, ids[0]) == "SUCCEEDED"
    assert _counters(stage) == (4, 4, 0)
    assert stage.metrics.total("CompletedQueries", tenant="alpha", status="SUCCEEDED") == 1
    assert ("completion", ids[0]) not in stage.wakeups.sent  # the refill took the slot, no wake-up


def test_a_quota_throttle_requeues_at_the_head_uncharged_and_lowers_the_limit_once(
    stage: MemoryStage,
) -> None:
    stage.athena.quota = 2
    ids = [_queued(stage, tenant) for tenant in ("alpha", "alpha", "beta", "beta")]
    report = Dispatcher(stage.deps).run_round()

    # the first throttle requeues its query; the round then starts nothing more in the full pool
    assert len(report.started) == 2 and len(report.requeued) == 1 and len(report.skipped) == 1
    assert sorted(_status(stage, q) for q in ids) == ["QUEUED", "QUEUED", "RUNNING", "RUNNING"]
    assert stage.metrics.total("ThrottlingErrorCount") == 1
    assert stage.ledger.pools(["DML"])["DML"].active == 2
    limits = [
        v for name, v, dims in stage.metrics.points if name == "EffectiveLimit" and dims["pool"] == "DML"
    ]
    assert limits[-1] < 10 and sum(1 for value in limits if value < 10) == 1  # one decrease for the round


def test_a_refused_start_fails_at_once_and_notifies_nobody_without_a_topic(stage: MemoryStage) -> None:
    stage.athena.permanent_sql.add("missing_table")
    query_id = _queued(stage, sql="SELECT * FROM missing_table")
    report = Dispatcher(stage.deps).run_round()

    assert report.failed == [query_id]
    record = stage.ledger.get(query_id)
    assert record is not None and (record.status, record.error_kind) == ("FAILED", "permanent")
    assert stage.athena.start_calls == 1  # I-8: never retried
    assert _counters(stage) == (0, 0, 0)
    assert stage.metrics.total("CompletedQueries", tenant="alpha", status="FAILED") == 1
    assert ("completion", query_id) in stage.wakeups.sent  # the slot came back: wake the dispatcher


def test_transient_start_errors_are_retried_then_dead_lettered(stage: MemoryStage) -> None:
    attempts = stage.deps.config.max_transient_attempts
    stage.athena.script.extend(Transient("InternalServerException", "try again") for _ in range(attempts))
    query_id = _queued(stage)
    report = Dispatcher(stage.deps).run_round()

    assert report.dead_lettered == [query_id] and report.failed == [query_id]
    assert stage.wakeups.dead == [("submit", query_id)]
    record = stage.ledger.get(query_id)
    assert record is not None and (record.status, record.error_kind, record.attempts) == (
        "FAILED",
        "transient",
        attempts,
    )
    assert Lifecycle(stage.deps).restart(record)  # redrive: back to its queue
    assert _status(stage, query_id) == "QUEUED"
    assert Dispatcher(stage.deps).run_round().started == [query_id]


def test_a_start_after_a_cancel_stops_what_athena_started(stage: MemoryStage) -> None:
    query_id = _queued(stage)
    record = stage.ledger.get(query_id)
    assert record is not None
    lifecycle = Lifecycle(stage.deps)
    admitted = lifecycle.claim(record, "DML", 4)
    assert admitted is not None
    assert lifecycle.cancel(admitted) == "CANCELLED"  # the claim is released by the cancel

    assert lifecycle.start(admitted, "DML") is StartResult.STOPPED
    execution = stage.athena.execution_for(query_id)
    assert execution is not None and stage.athena.stop_calls == [execution.execution_id]
    assert _counters(stage) == (0, 0, 0)


def test_every_terminal_state_notifies_the_tenant_once(stage: MemoryStage) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:alpha"
    config = stage.deps.config
    tenants = {
        **config.tenants,
        "alpha": config.tenants["alpha"].model_copy(update={"notify_topic_arn": topic}),
    }
    stage.deps.config = config.model_copy(update={"tenants": tenants})
    done, failed, running, queued = (_queued(stage) for _ in range(4))
    Dispatcher(stage.deps).run_round()
    on_state_change(stage.deps, _finish_in_athena(stage, done), "SUCCEEDED", "wg-alpha")
    on_state_change(stage.deps, _finish_in_athena(stage, failed, "FAILED"), "FAILED", "wg-alpha")
    for query_id in (running, queued):
        record = stage.ledger.get(query_id)
        assert record is not None
        Lifecycle(stage.deps).cancel(record)
    on_state_change(stage.deps, _finish_in_athena(stage, running, "CANCELLED"), "CANCELLED", "wg-alpha")

    sent = [(message["query_id"], message["status"]) for _, _, message in stage.notifier.sent]
    assert sorted(sent) == sorted(
        [(done, "SUCCEEDED"), (failed, "FAILED"), (running, "CANCELLED"), (queued, "CANCELLED")]
    )
    assert stage.metrics.total("CancelledQueries", tenant="alpha") == 2


def test_reconcile_restarts_a_stale_claim_once_and_finishes_a_query_whose_event_was_lost(
    stage: MemoryStage,
) -> None:
    stale, lost = _queued(stage), _queued(stage)
    record = stage.ledger.get(stale)
    assert record is not None
    assert stage.ledger.claim(record, "DML", 4, stage.deps.now_ms())  # the dispatcher died after its claim
    Dispatcher(stage.deps).run_round()  # starts `lost`
    _finish_in_athena(stage, lost)  # ... whose event never arrives
    stage.clock.advance(max(STALE_ADMITTED_S, stage.deps.config.event_grace_s) + 1)

    dispatcher = Dispatcher(stage.deps)
    dispatcher.run_round()
    repairs = reconcile(stage.deps, dispatcher)
    again = reconcile(stage.deps, Dispatcher(stage.deps))

    assert repairs.restarted == [stale] and repairs.recovered == [lost]
    assert again.restarted == [] and again.recovered == []
    assert (_status(stage, stale), _status(stage, lost)) == ("RUNNING", "SUCCEEDED")
    assert _counters(stage) == (1, 1, 0)
    assert stage.metrics.total("RecoveredCompletions", tenant="alpha") == 1


def test_reconcile_tells_the_dispatcher_when_a_restart_meets_a_full_quota(stage: MemoryStage) -> None:
    query_id = _queued(stage)
    record = stage.ledger.get(query_id)
    assert record is not None
    assert stage.ledger.claim(record, "DML", 4, stage.deps.now_ms())
    stage.clock.advance(STALE_ADMITTED_S + 1)
    stage.athena.script.append(QuotaThrottle("TooManyRequestsException", "full"))

    repairs = reconcile(stage.deps, Dispatcher(stage.deps))

    assert repairs.restarted == []
    assert _status(stage, query_id) == "QUEUED"  # I-7: back at its head
    assert _dml_limits(stage)[-1] < 10  # and the limit was lowered


def test_a_refused_start_in_a_restart_is_failed_not_retried(stage: MemoryStage) -> None:
    query_id = _queued(stage)
    record = stage.ledger.get(query_id)
    assert record is not None
    assert stage.ledger.claim(record, "DML", 4, stage.deps.now_ms())
    stage.clock.advance(STALE_ADMITTED_S + 1)
    stage.athena.script.append(Permanent("InvalidRequestException", "no such table"))

    reconcile(stage.deps, Dispatcher(stage.deps))

    assert _status(stage, query_id) == "FAILED"
    assert _counters(stage) == (0, 0, 0)


def test_every_athena_call_about_a_query_is_made_as_its_tenant(stage: MemoryStage) -> None:
    """I-4: starts, status reads, reconcile's polls, results and stops go through `as_tenant` of the
    query's own tenant, never another's."""
    from fairshare.services import queries

    alpha, beta = _queued(stage, "alpha"), _queued(stage, "beta")
    beta_cancelled = _queued(stage, "beta")
    Dispatcher(stage.deps).run_round()
    assert stage.athena.tenant_of_start(alpha) == "alpha"
    assert stage.athena.tenant_of_start(beta) == "beta"
    queries.cancel(stage.deps, "beta", beta_cancelled)  # a running query: stopped in Athena
    on_state_change(stage.deps, _finish_in_athena(stage, alpha), "SUCCEEDED", "wg-alpha")
    queries.results(stage.deps, "alpha", alpha, None)
    stage.clock.advance(stage.deps.config.event_grace_s + 1)
    _finish_in_athena(stage, beta)
    reconcile(stage.deps, Dispatcher(stage.deps))  # beta's completion event never came: the poll finds it
    executions = {e.execution_id: e.token for e in stage.athena.executions.values()}
    tenant_of = {alpha: "alpha", beta: "beta", beta_cancelled: "beta"}
    seen = {(tenant, op) for tenant, op, _ in stage.athena.calls_as}
    assert {
        ("alpha", "start"),
        ("alpha", "get"),
        ("alpha", "results"),
        ("beta", "stop"),
        ("beta", "batch_get"),
    } <= seen
    for tenant, op, ref in stage.athena.calls_as:
        query_id = ref if op == "start" else executions[ref]
        assert tenant == tenant_of[query_id], (tenant, op, query_id)
