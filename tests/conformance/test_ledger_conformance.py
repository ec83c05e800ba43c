"""The ledger's conditions, races and idempotency, the same for the in-memory and the DynamoDB ledger."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from fairshare.domain.errors import DependencyUnavailable, QueueFull
from fairshare.domain.service import Service
from fairshare.ports import DuplicateQuery, Finalization, Ledger, QueryRecord, UnknownQuery

from tests.conformance.conftest import DECAY, Backend

T0_MS = 1_800_000_000_000
T0 = T0_MS / 1000
DAY = "2027-01-15"


def _record(n: int, tenant: str = "north", priority: int = 1, statement_class: str = "DML") -> QueryRecord:
    return QueryRecord(
        query_id=f"00000000-0000-4000-8000-{n:012d}",
        tenant=tenant,
        status="QUEUED",
        sql=f"SELECT {n}",
        database="default",
        workgroup=f"wg-{tenant}",
        statement_class=statement_class,
        priority=priority,
        seq=n,
        submitted_at=T0_MS + n,
    )


def _queued(ledger: Ledger, n: int, tenant: str = "north", first: int = 1) -> list[QueryRecord]:
    records = [_record(seq, tenant) for seq in range(first, first + n)]
    for record in records:
        ledger.submit(record, max_queued=100)
    return records


def _claimed(ledger: Ledger, record: QueryRecord, now_ms: int = T0_MS) -> QueryRecord:
    assert ledger.claim(record, "DML", 10, now_ms)
    current = ledger.get(record.query_id)
    assert current is not None
    return current


def _done(status: str = "SUCCEEDED", at_ms: int = T0_MS + 30_000, **fields: object) -> Finalization:
    return Finalization(status=status, finished_at=at_ms, day=DAY, **fields)  # type: ignore[arg-type]


def _counters(ledger: Ledger, tenant: str = "north", pool: str = "DML") -> tuple[int, int, int]:
    """(pool active, tenant running, tenant queued)"""
    state = ledger.tenants([tenant])[tenant]
    return ledger.pools([pool])[pool].active, state.running, state.queued


def _service(ledger: Ledger, now_ms: int, tenant: str = "north") -> Service:
    record = ledger.tenants([tenant])[tenant]
    return Service.of(record.service, record.running, now_ms / 1000, DECAY)


def _race(*calls: Callable[[], bool]) -> list[bool]:
    """Run the calls on threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[bool] = [False] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def pool(ledger: Ledger) -> Ledger:
    """The ledger with the DML pool created at a limit of 10."""
    ledger.ensure_pool("DML", 10.0, T0)
    return ledger


# --- submit ---------------------------------------------------------------------------------------
def test_a_submitted_query_is_stored_queued_and_counted(ledger: Ledger) -> None:
    (record,) = _queued(ledger, 1)

    stored = ledger.get(record.query_id)
    assert stored is not None
    assert dataclasses.replace(stored, expires_at=None) == record
    assert stored.expires_at == record.submitted_at // 1000 + 90 * 86_400
    assert ledger.tenants(["north"])["north"].queued == 1
    assert ledger.position(record, 1000) == 1
    assert [r.query_id for r in ledger.queued_heads("north", 10)] == [record.query_id]


def test_a_replayed_submit_is_a_duplicate_and_counts_nothing(ledger: Ledger) -> None:
    (record,) = _queued(ledger, 1)

    with pytest.raises(DuplicateQuery):
        ledger.submit(dataclasses.replace(record, sql="SELECT 'other'"), max_queued=100)
    assert ledger.tenants(["north"])["north"].queued == 1
    assert ledger.get(record.query_id) is not None
    assert ledger.get(record.query_id).sql == record.sql  # type: ignore[union-attr]


def test_a_full_queue_refuses_the_next_query_and_writes_nothing(ledger: Ledger) -> None:
    _queued(ledger, 3)
    extra = _record(4)

    with pytest.raises(QueueFull):
        ledger.submit(extra, max_queued=3)
    assert ledger.get(extra.query_id) is None
    assert ledger.tenants(["north"])["north"].queued == 3
    ledger.submit(_record(5, tenant="south"), max_queued=3)  # another tenant's queue is its own


def test_a_replay_into_a_full_queue_is_a_duplicate_not_a_full_queue(ledger: Ledger) -> None:
    first, *_ = _queued(ledger, 2)

    with pytest.raises(DuplicateQuery):
        ledger.submit(first, max_queued=2)


def test_unknown_ids_read_as_none(ledger: Ledger) -> None:
    assert ledger.get("00000000-0000-4000-8000-999999999999") is None
    assert ledger.by_execution("no-such-execution") is None


def test_an_unreachable_ledger_is_a_dependency_failure_and_writes_nothing(backend: Backend) -> None:
    ledger = backend.ledger
    record = _record(1)
    with backend.outage():
        with pytest.raises(DependencyUnavailable):
            ledger.submit(record, max_queued=100)
        with pytest.raises(DependencyUnavailable):
            ledger.get(record.query_id)
    assert ledger.get(record.query_id) is None
    assert ledger.tenants(["north"])["north"].queued == 0


# --- claim ----------------------------------------------------------------------------------------
def test_a_claim_admits_the_query_and_counts_its_slot(pool: Ledger) -> None:
    first, second = _queued(pool, 2)

    admitted = _claimed(pool, first, T0_MS + 5)
    assert (admitted.status, admitted.admitted_at) == ("ADMITTED", T0_MS + 5)
    assert _counters(pool) == (1, 1, 1)
    assert [r.query_id for r in pool.queued_heads("north", 10)] == [second.query_id]
    assert [r.query_id for r in pool.active("DML")] == [first.query_id]
    assert pool.position(second, 1000) == 1


def test_a_query_is_claimed_once(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    assert pool.claim(record, "DML", 10, T0_MS)

    assert not pool.claim(record, "DML", 10, T0_MS + 1)
    assert _counters(pool) == (1, 1, 0)
    assert pool.get(record.query_id).admitted_at == T0_MS  # type: ignore[union-attr]


def test_no_claim_lands_in_a_pool_without_a_limit(ledger: Ledger) -> None:
    (record,) = _queued(ledger, 1)

    assert not ledger.claim(record, "DML", 10, T0_MS)
    assert ledger.get(record.query_id).status == "QUEUED"  # type: ignore[union-attr]
    assert _counters(ledger) == (0, 0, 1)


def test_a_claim_stops_at_the_pools_effective_limit(ledger: Ledger) -> None:
    ledger.ensure_pool("DML", 2.0, T0)
    records = _queued(ledger, 2) + _queued(ledger, 2, tenant="south", first=3)

    assert [ledger.claim(r, "DML", 10, T0_MS) for r in records] == [True, True, False, False]
    assert ledger.pools(["DML"])["DML"].active == 2
    assert _counters(ledger, "south") == (2, 0, 2)


def test_a_fractional_effective_limit_admits_only_its_whole_slots(ledger: Ledger) -> None:
    # AIMD leaves fractional limits (55 * 0.7 = 38.5): 38 < 38.5 must not admit a 39th query (I-2).
    ledger.ensure_pool("DML", 3.0, T0)
    assert ledger.save_limit("DML", 2.5, T0 + 1, T0 + 1, expected_changed_at=None)

    claimed = [r for r in _queued(ledger, 3) if ledger.claim(r, "DML", 10, T0_MS + 2_000)]
    assert len(claimed) == 2
    assert ledger.pools(["DML"])["DML"].active == 2


def test_the_limit_recovering_to_a_whole_value_admits_again(ledger: Ledger) -> None:
    ledger.ensure_pool("DML", 3.0, T0)
    ledger.save_limit("DML", 1.5, T0 + 1, T0 + 1, expected_changed_at=None)
    first, second = _queued(ledger, 2)

    assert ledger.claim(first, "DML", 10, T0_MS + 2_000)
    assert not ledger.claim(second, "DML", 10, T0_MS + 2_000)
    assert ledger.save_limit("DML", 2.5, T0 + 11, None, expected_changed_at=T0 + 1)
    assert ledger.claim(second, "DML", 10, T0_MS + 12_000)


def test_a_claim_stops_at_the_tenants_cap(pool: Ledger) -> None:
    records = _queued(pool, 3)
    other = _queued(pool, 1, tenant="south", first=4)

    assert [pool.claim(r, "DML", 2, T0_MS) for r in records] == [True, True, False]
    assert pool.get(records[2].query_id).status == "QUEUED"  # type: ignore[union-attr]
    assert _counters(pool) == (2, 2, 1)
    assert pool.claim(other[0], "DML", 2, T0_MS)  # the cap is the tenant's own


def test_a_released_slot_lets_the_tenant_claim_again(pool: Ledger) -> None:
    first, second = _queued(pool, 2)
    admitted = _claimed(pool, first)
    assert not pool.claim(second, "DML", 1, T0_MS)

    assert pool.finalize(admitted, _done())
    assert pool.claim(second, "DML", 1, T0_MS + 31_000)


def test_concurrent_claims_never_exceed_the_pool_limit_or_a_tenants_cap(ledger: Ledger) -> None:
    ledger.ensure_pool("DML", 5.0, T0)
    north, south = _queued(ledger, 12), _queued(ledger, 12, tenant="south", first=13)

    def claim_all(records: list[QueryRecord]) -> Callable[[], bool]:
        return lambda: sum(ledger.claim(r, "DML", 3, T0_MS) for r in records) > 0

    # four rounds at once, two per tenant, each trying every query of its tenant
    _race(claim_all(north), claim_all(north[::-1]), claim_all(south), claim_all(south[::-1]))
    pools, tenants = ledger.pools(["DML"]), ledger.tenants(["north", "south"])
    admitted = ledger.active("DML")
    assert pools["DML"].active == len(admitted) == 5
    assert tenants["north"].running <= 3 and tenants["south"].running <= 3
    assert tenants["north"].running + tenants["south"].running == 5
    assert tenants["north"].queued + tenants["south"].queued == 24 - 5


# --- fair share on claim and release --------------------------------------------------------------
def test_a_release_charges_the_slot_seconds_held_since_the_claim(pool: Ledger) -> None:
    first, second = _queued(pool, 2)
    first = _claimed(pool, first, T0_MS)
    _claimed(pool, second, T0_MS + 10_000)

    while_running = _service(pool, T0_MS + 20_000)
    assert while_running.received_s == 0
    assert while_running.elapsed_s == pytest.approx(20 + 10)  # what the two running hold so far

    assert pool.finalize(first, _done(at_ms=T0_MS + 30_000))
    assert not pool.finalize(first, _done(at_ms=T0_MS + 30_000))  # a duplicate charges nothing
    after = _service(pool, T0_MS + 30_000)
    assert after.received_s == pytest.approx(30.0)
    assert after.mean_run_s == pytest.approx(30.0)
    assert after.elapsed_s == pytest.approx(20.0)  # the second query only
    assert after.released_at == pytest.approx((T0_MS + 30_000) / 1000)
    # a half-life later, history counts half
    assert _service(pool, T0_MS + 630_000).received_s == pytest.approx(15.0)


def test_a_rejoining_tenant_is_lifted_once(pool: Ledger) -> None:
    first, second, third = _queued(pool, 3)
    since = T0_MS - 1_000  # when its oldest waiting query came
    assert pool.claim(first, "DML", 10, T0_MS, lift_s=40.0, lift_since_ms=since)
    assert _service(pool, T0_MS).received_s == pytest.approx(40.0)
    assert pool.tenants(["north"])["north"].service.claimed_ms == T0_MS
    # a second round that also saw the tenant rejoin may not lift it again: a slot went to it since
    assert not pool.claim(second, "DML", 10, T0_MS + 5, lift_s=40.0, lift_since_ms=since)
    assert pool.get(second.query_id).status == "QUEUED"  # type: ignore[union-attr]
    assert pool.claim(second, "DML", 10, T0_MS + 5)
    assert _service(pool, T0_MS).received_s == pytest.approx(40.0)
    # it rejoins again, while its two queries still run, once it has waited after its last slot
    assert pool.claim(third, "DML", 10, T0_MS + 9_000, lift_s=10.0, lift_since_ms=T0_MS + 8_000)
    assert _service(pool, T0_MS + 9_000).received_s == pytest.approx(50.0, rel=2e-2)  # 9 s of decay


def test_history_older_than_the_epoch_before_is_dropped_by_the_next_release(pool: Ledger) -> None:
    records = _queued(pool, 2)
    epoch_ms = int(DECAY.epoch_s * 1000)
    start = (T0_MS // epoch_ms + 1) * epoch_ms  # the start of an epoch
    first = _claimed(pool, records[0], start)
    assert pool.finalize(first, _done(at_ms=start + 50_000))
    second = _claimed(pool, records[1], start + 2 * epoch_ms)
    assert pool.finalize(second, _done(at_ms=start + 2 * epoch_ms + 10_000))

    history = pool.tenants(["north"])["north"].service
    assert sorted(history.served) == [DECAY.epoch(start / 1000) + 2]
    assert _service(pool, start + 2 * epoch_ms + 10_000).received_s == pytest.approx(10.0)


# --- mark_running and requeue ---------------------------------------------------------------------
def test_mark_running_records_the_execution_once(pool: Ledger) -> None:
    queued, other = _queued(pool, 2)
    _claimed(pool, queued)

    assert pool.mark_running(queued.query_id, "exec-1", T0_MS + 100)
    assert not pool.mark_running(queued.query_id, "exec-2", T0_MS + 200)  # a replayed start
    assert not pool.mark_running(other.query_id, "exec-3", T0_MS + 200)  # not admitted
    running = pool.by_execution("exec-1")
    assert running is not None
    assert (running.query_id, running.status, running.started_at) == (queued.query_id, "RUNNING", T0_MS + 100)
    assert pool.by_execution("exec-2") is None and pool.by_execution("exec-3") is None
    assert pool.get(other.query_id).status == "QUEUED"  # type: ignore[union-attr]


def test_a_throttled_start_goes_back_to_the_head_uncharged(pool: Ledger) -> None:
    first, second = _queued(pool, 2)
    admitted = _claimed(pool, first)

    assert pool.requeue(admitted, "DML")
    back = pool.get(first.query_id)
    assert back is not None and (back.status, back.admitted_at, back.attempts) == ("QUEUED", None, 0)
    assert [r.query_id for r in pool.queued_heads("north", 10)] == [first.query_id, second.query_id]
    assert pool.active("DML") == []
    assert _counters(pool) == (0, 0, 2)
    state = pool.tenants(["north"])["north"]
    assert (state.service.held_ms, _service(pool, T0_MS + 5_000).received_s) == (0, 0)
    assert not pool.requeue(admitted, "DML")  # once
    assert _counters(pool) == (0, 0, 2)


def test_only_an_admitted_query_is_requeued(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    admitted = _claimed(pool, record)
    pool.mark_running(record.query_id, "exec-1", T0_MS)

    assert not pool.requeue(admitted, "DML")
    assert pool.get(record.query_id).status == "RUNNING"  # type: ignore[union-attr]
    assert _counters(pool) == (1, 1, 0)


def test_attempts_count_up(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)

    assert [pool.add_attempt(record.query_id) for _ in range(3)] == [1, 2, 3]
    assert pool.get(record.query_id).attempts == 3  # type: ignore[union-attr]


def test_an_attempt_for_an_unknown_query_creates_nothing(pool: Ledger) -> None:
    with pytest.raises(UnknownQuery):
        pool.add_attempt("no-such-query")
    assert pool.get("no-such-query") is None


# --- finalize and cancel --------------------------------------------------------------------------
@pytest.mark.parametrize("running", [False, True], ids=["admitted", "running"])
def test_finalize_records_the_outcome_and_releases_the_slot_once(pool: Ledger, running: bool) -> None:
    (record,) = _queued(pool, 1)
    admitted = _claimed(pool, record)
    if running:
        pool.mark_running(record.query_id, "exec-1", T0_MS + 10)
    outcome = _done(
        "FAILED",
        bytes_scanned=512,
        engine_ms=40,
        athena_queue_ms=3,
        error_code="ATHENA_ERROR",
        error_message="boom",
        error_kind="athena",
        output_location="s3://b/k.csv",
    )

    assert pool.finalize(admitted, outcome)
    assert not pool.finalize(admitted, _done("SUCCEEDED"))  # a repeated finalize changes nothing
    final = pool.get(record.query_id)
    assert final is not None
    assert (final.status, final.finished_at, final.bytes_scanned, final.engine_ms) == (
        "FAILED",
        outcome.finished_at,
        512,
        40,
    )
    assert (final.athena_queue_ms, final.error_code, final.error_message) == (3, "ATHENA_ERROR", "boom")
    assert (final.error_kind, final.output_location) == ("athena", "s3://b/k.csv")
    assert _counters(pool) == (0, 0, 0)
    assert pool.active("DML") == []
    assert pool.tenants(["north"])["north"].bytes_on(DAY) == 512


def test_a_queued_query_is_not_finalized(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)

    assert not pool.finalize(record, _done("CANCELLED"))
    assert pool.get(record.query_id).status == "QUEUED"  # type: ignore[union-attr]
    assert _counters(pool) == (0, 0, 1)


def test_bytes_add_up_within_a_day_and_restart_on_the_next(pool: Ledger) -> None:
    records = [_claimed(pool, r) for r in _queued(pool, 3)]

    assert pool.finalize(records[0], dataclasses.replace(_done(), bytes_scanned=100))
    assert pool.finalize(records[1], dataclasses.replace(_done(), bytes_scanned=50))
    assert pool.tenants(["north"])["north"].bytes_on(DAY) == 150
    assert pool.finalize(records[2], dataclasses.replace(_done(), bytes_scanned=7, day="2027-01-16"))
    state = pool.tenants(["north"])["north"]
    assert (state.bytes_on("2027-01-16"), state.bytes_on(DAY)) == (7, 0)


def test_racing_finalize_and_cancel_release_each_slot_exactly_once(pool: Ledger) -> None:
    records = [_claimed(pool, r) for r in _queued(pool, 6)]
    calls: list[Callable[[], bool]] = []
    for record in records:
        calls.append(lambda r=record: pool.finalize(r, _done("SUCCEEDED")))  # type: ignore[misc]
        calls.append(lambda r=record: pool.finalize(r, _done("CANCELLED", error_kind="cancelled")))  # type: ignore[misc]

    won = _race(*calls)
    assert [won[i] + won[i + 1] for i in range(0, len(won), 2)] == [1] * len(records)
    assert _counters(pool) == (0, 0, 0)
    statuses = {pool.get(r.query_id).status for r in records}  # type: ignore[union-attr]
    assert statuses <= {"SUCCEEDED", "CANCELLED"}
    assert _service(pool, T0_MS + 30_000).mean_run_s == pytest.approx(30.0)  # six charges, not twelve


def test_cancel_removes_a_queued_query_once(pool: Ledger) -> None:
    first, second = _queued(pool, 2)

    assert pool.cancel_queued(first, T0_MS + 7)
    assert not pool.cancel_queued(first, T0_MS + 8)
    cancelled = pool.get(first.query_id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at, cancelled.error_kind) == (
        "CANCELLED",
        T0_MS + 7,
        "cancelled",
    )
    assert [r.query_id for r in pool.queued_heads("north", 10)] == [second.query_id]
    assert pool.position(second, 1000) == 1
    assert _counters(pool) == (0, 0, 1)


def test_an_admitted_query_is_not_cancelled_as_queued(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    _claimed(pool, record)

    assert not pool.cancel_queued(record, T0_MS)
    assert pool.get(record.query_id).status == "ADMITTED"  # type: ignore[union-attr]
    assert _counters(pool) == (1, 1, 0)


def test_a_cancel_racing_a_claim_lets_exactly_one_win(pool: Ledger) -> None:
    records = _queued(pool, 8)
    calls: list[Callable[[], bool]] = []
    for record in records:
        calls.append(lambda r=record: pool.claim(r, "DML", 10, T0_MS))  # type: ignore[misc]
        calls.append(lambda r=record: pool.cancel_queued(r, T0_MS))  # type: ignore[misc]

    won = _race(*calls)
    claims = sum(won[0::2])
    assert [won[i] + won[i + 1] for i in range(0, len(won), 2)] == [1] * len(records)
    assert _counters(pool) == (claims, claims, 0)


# --- restart after transient failures -------------------------------------------------------------
def test_a_query_that_failed_transiently_restarts_once(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    admitted = _claimed(pool, record)
    pool.add_attempt(record.query_id)
    pool.finalize(admitted, _done("FAILED", error_code="X", error_message="5xx", error_kind="transient"))
    failed = pool.get(record.query_id)
    assert failed is not None

    assert pool.restart_failed(failed)
    assert not pool.restart_failed(failed)
    again = pool.get(record.query_id)
    assert again is not None
    assert (again.status, again.attempts, again.finished_at) == ("QUEUED", 0, None)
    assert (again.error_code, again.error_message, again.error_kind) == (None, None, None)
    assert [r.query_id for r in pool.queued_heads("north", 10)] == [record.query_id]
    assert _counters(pool) == (0, 0, 1)
    assert pool.claim(again, "DML", 10, T0_MS + 60_000)


def test_a_permanent_failure_does_not_restart(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    admitted = _claimed(pool, record)
    pool.finalize(admitted, _done("FAILED", error_kind="permanent"))

    assert not pool.restart_failed(admitted)
    assert pool.get(record.query_id).status == "FAILED"  # type: ignore[union-attr]
    assert _counters(pool) == (0, 0, 0)


# --- reads: queue order, position, listing --------------------------------------------------------
def test_the_queue_is_by_priority_then_fifo_and_positions_count_what_is_ahead(ledger: Ledger) -> None:
    low, urgent, also_low, also_urgent = (_record(n, priority=p) for n, p in [(1, 0), (2, 2), (3, 0), (4, 2)])
    for record in (low, urgent, also_low, also_urgent):
        ledger.submit(record, max_queued=100)

    order = [r.query_id for r in ledger.queued_heads("north", 10)]
    assert order == [urgent.query_id, also_urgent.query_id, low.query_id, also_low.query_id]
    assert [r.query_id for r in ledger.queued_heads("north", 1)] == [urgent.query_id]
    assert [r.query_id for r in ledger.queued_heads("north", 10, priority=0)] == [
        low.query_id,
        also_low.query_id,
    ]
    assert ledger.queued_heads("north", 10, priority=1) == []
    assert [ledger.position(r, 1000) for r in (low, urgent, also_low, also_urgent)] == [3, 1, 4, 2]
    assert ledger.position(also_low, 2) == 3  # counts at most `cap` ahead
    assert ledger.queued_heads("south", 10) == []
    assert ledger.count_queued("north") == 4


def test_a_tenants_list_pages_newest_first(ledger: Ledger) -> None:
    records = _queued(ledger, 5)
    _queued(ledger, 2, tenant="south", first=6)

    first = ledger.list_for_tenant("north", None, 2, None)
    second = ledger.list_for_tenant("north", None, 2, first.last_key)
    third = ledger.list_for_tenant("north", None, 2, second.last_key)
    assert [r.query_id for r in first.records] == [records[4].query_id, records[3].query_id]
    assert first.last_key == {
        "query_id": records[3].query_id,
        "tenant": "north",
        "submitted_at": records[3].submitted_at,
    }
    assert [r.query_id for r in second.records] == [records[2].query_id, records[1].query_id]
    assert [r.query_id for r in third.records] == [records[0].query_id]
    assert third.last_key is None
    assert ledger.list_for_tenant("north", None, 10, None).last_key is None


def test_a_status_filter_applies_to_the_items_a_page_reads(ledger: Ledger) -> None:
    records = _queued(ledger, 5)
    ledger.cancel_queued(records[1], T0_MS + 100)
    ledger.cancel_queued(records[3], T0_MS + 100)

    everything = ledger.list_for_tenant("north", "CANCELLED", 10, None)
    assert [r.query_id for r in everything.records] == [records[3].query_id, records[1].query_id]
    assert everything.last_key is None
    # a page reads on past the items that do not match until it holds `limit`, and no further
    page = ledger.list_for_tenant("north", "QUEUED", 2, None)
    assert [r.query_id for r in page.records] == [records[4].query_id, records[2].query_id]
    assert page.last_key is not None and page.last_key["query_id"] == records[2].query_id
    rest = ledger.list_for_tenant("north", "QUEUED", 5, page.last_key)
    assert [r.query_id for r in rest.records] == [records[0].query_id]
    assert rest.last_key is None


# --- pools, limits, room, bucket ------------------------------------------------------------------
def test_a_pool_is_created_once_with_its_first_limit(ledger: Ledger) -> None:
    assert ledger.pools(["DML"])["DML"].limit_value is None
    ledger.ensure_pool("DML", 10.0, T0)
    ledger.ensure_pool("DML", 4.0, T0 + 60)

    pool = ledger.pools(["DML", "DDL"])
    assert (pool["DML"].active, pool["DML"].limit_value, pool["DML"].limit_changed_at) == (0, 10.0, T0)
    assert (pool["DDL"].active, pool["DDL"].limit_value, pool["DDL"].room) == (0, None, None)


def test_a_limit_change_is_optimistic_and_a_throttle_cut_always_lands(pool: Ledger) -> None:
    assert not pool.save_limit("DML", 11.0, T0 + 5, None, expected_changed_at=None)  # it has a limit
    assert not pool.save_limit("DML", 11.0, T0 + 5, None, expected_changed_at=T0 - 1)  # stale read
    assert pool.save_limit("DML", 11.0, T0 + 5, None, expected_changed_at=T0)
    # a throttle cuts whatever the reader saw, but never raises the limit
    assert pool.save_limit("DML", 5.5, T0 + 6, T0 + 6, expected_changed_at=T0 - 1)
    assert not pool.save_limit("DML", 8.0, T0 + 7, T0 + 7, expected_changed_at=T0 + 6)

    limit = pool.pools(["DML"])["DML"]
    assert (limit.limit_value, limit.limit_changed_at, limit.last_throttle_at) == (5.5, T0 + 6, T0 + 6)


def test_only_a_newer_usage_sample_replaces_the_room(pool: Ledger) -> None:
    assert pool.save_room("DML", 7, T0 + 60, binding=True)
    assert not pool.save_room("DML", 3, T0 + 60, binding=False)
    assert not pool.save_room("DML", 3, T0, binding=False)
    assert pool.save_room("DML", 4, T0 + 120, binding=False)

    room = pool.pools(["DML"])["DML"].room
    assert room is not None and (room.slots, room.at, room.binding) == (4, T0 + 120, False)


def test_a_tenants_waiting_reason_is_recorded_beside_its_counters_and_cleared(ledger: Ledger) -> None:
    (record,) = _queued(ledger, 1)
    assert ledger.tenants(["north"])["north"].waiting_reason is None

    ledger.save_waiting("north", "tenant_cap", T0 + 5)
    state = ledger.round_state(["DML"], ["north"]).tenants["north"]
    assert (state.waiting_reason, state.waiting_since, state.queued) == ("tenant_cap", T0 + 5, 1)

    ledger.save_waiting("north", None, None)
    state = ledger.tenants(["north"])["north"]
    assert (state.waiting_reason, state.waiting_since, state.queued) == (None, None, 1)
    assert ledger.get(record.query_id) is not None


def test_the_start_bucket_is_written_only_over_what_was_read(ledger: Ledger) -> None:
    assert ledger.read_bucket() is None
    assert not ledger.save_bucket(10.0, T0, expected=(80.0, T0 - 1))
    assert ledger.save_bucket(80.0, T0, expected=None)
    assert not ledger.save_bucket(70.0, T0 + 1, expected=None)
    assert ledger.save_bucket(79.5, T0 + 1, expected=(80.0, T0))
    assert not ledger.save_bucket(60.0, T0 + 2, expected=(80.0, T0))  # another round wrote since

    assert ledger.read_bucket() == (79.5, T0 + 1)


def test_a_rounds_snapshot_holds_pools_tenants_and_the_bucket(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    _claimed(pool, record)
    pool.save_bucket(12.0, T0, expected=None)

    state = pool.round_state(["DML", "DDL"], ["north", "south"])
    assert (state.pools["DML"].active, state.pools["DML"].limit_value, state.pools["DDL"].active) == (
        1,
        10.0,
        0,
    )
    assert (state.tenants["north"].running, state.tenants["north"].queued) == (1, 0)
    assert (state.tenants["south"].running, state.tenants["south"].queued) == (0, 0)
    assert state.bucket == (12.0, T0)


# --- reconcile: active, counts, repair ------------------------------------------------------------
def test_active_lists_the_queries_holding_a_slot_oldest_claim_first(pool: Ledger) -> None:
    first, second, third, ddl = (*_queued(pool, 3), _record(9, statement_class="DDL"))
    pool.submit(ddl, max_queued=100)
    _claimed(pool, second, T0_MS + 1)
    admitted = _claimed(pool, first, T0_MS + 2)
    pool.mark_running(first.query_id, "exec-1", T0_MS + 3)
    done = _claimed(pool, third, T0_MS + 4)
    pool.finalize(done, _done())

    assert [r.query_id for r in pool.active("DML")] == [second.query_id, admitted.query_id]
    assert [r.status for r in pool.active("DML")] == ["ADMITTED", "RUNNING"]
    assert pool.active("DDL") == []
    assert pool.count_queued("north") == 1


def test_a_counter_is_repaired_only_if_it_still_holds_what_was_read(pool: Ledger) -> None:
    (record,) = _queued(pool, 1)
    _claimed(pool, record)

    assert not pool.repair_counter("pool#DML", "active", 3, 0)  # it holds 1, not 3
    assert pool.repair_counter("pool#DML", "active", 1, 4)
    assert pool.repair_counter("tenant#north", "queued", 0, 2)
    assert pool.repair_counter("tenant#south", "running", 0, 1)  # never written counts as 0
    assert not pool.repair_counter("tenant#west", "running", 2, 0)
    assert _counters(pool) == (4, 1, 2)
    assert pool.tenants(["south", "west"])["south"].running == 1
    assert pool.tenants(["west"])["west"].running == 0
