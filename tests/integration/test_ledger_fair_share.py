"""Fair share's state in the DynamoDB ledger: charged at release, lifted at an idle claim, repaired."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import boto3
import pytest
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.domain.service import Service, ServiceDecay
from fairshare.ports import Finalization, QueryRecord

from tests.integration.conftest import create_tables
from tests.reliability.harness import aws_env

T0_MS = 1_800_000_000_000
DECAY = ServiceDecay(half_life_s=600.0)


@pytest.fixture
def ledger() -> Iterator[DynamoLedger]:
    with aws_env():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        led = DynamoLedger(client, "queries", "state", decay=DECAY)
        led.ensure_pool("DML", 10.0, T0_MS / 1000)
        yield led


def _queued(ledger: DynamoLedger, n: int, tenant: str = "north") -> list[QueryRecord]:
    records = []
    for seq in range(1, n + 1):
        record = QueryRecord(
            query_id=f"00000000-0000-4000-8000-{seq:012d}",
            tenant=tenant,
            status="QUEUED",
            sql=f"SELECT {seq}",
            database="default",
            workgroup="wg",
            statement_class="DML",
            priority=1,
            seq=seq,
            submitted_at=T0_MS + seq,
        )
        ledger.submit(record, max_queued=100)
        records.append(record)
    return records


def _finish(ledger: DynamoLedger, record: QueryRecord, admitted_ms: int, finished_ms: int) -> bool:
    admitted = dataclasses.replace(record, status="ADMITTED", admitted_at=admitted_ms)
    return ledger.finalize(
        admitted, Finalization(status="SUCCEEDED", finished_at=finished_ms, day="2027-01-15")
    )


def _service(ledger: DynamoLedger, now_ms: int, tenant: str = "north") -> Service:
    record = ledger.tenants([tenant])[tenant]
    return Service.of(record.service, record.running, now_ms / 1000, DECAY)


def test_a_release_charges_the_slot_seconds_held_since_the_claim(ledger: DynamoLedger) -> None:
    first, second = _queued(ledger, 2)
    assert ledger.claim(first, "DML", 10, T0_MS)
    assert ledger.claim(second, "DML", 10, T0_MS + 10_000)

    while_running = _service(ledger, T0_MS + 20_000)
    assert while_running.received_s == 0
    assert while_running.elapsed_s == pytest.approx(20 + 10)  # what the two running hold so far

    assert _finish(ledger, first, T0_MS, T0_MS + 30_000)
    assert not _finish(ledger, first, T0_MS, T0_MS + 30_000)  # a duplicate charges nothing
    after = _service(ledger, T0_MS + 30_000)
    assert after.received_s == pytest.approx(30.0)
    assert after.mean_run_s == pytest.approx(30.0)
    assert after.elapsed_s == pytest.approx(20.0)  # the second query only
    assert after.released_at == pytest.approx((T0_MS + 30_000) / 1000)

    # a half-life later, history counts half
    assert _service(ledger, T0_MS + 630_000).received_s == pytest.approx(15.0)


def test_a_throttled_start_gives_its_slot_back_uncharged(ledger: DynamoLedger) -> None:
    (record,) = _queued(ledger, 1)
    assert ledger.claim(record, "DML", 10, T0_MS)
    assert ledger.requeue(dataclasses.replace(record, status="ADMITTED", admitted_at=T0_MS), "DML")
    state = ledger.tenants(["north"])["north"]
    assert (state.running, state.service.held_ms, _service(ledger, T0_MS + 5_000).received_s) == (0, 0, 0)


def test_a_rejoining_tenant_is_lifted_once(ledger: DynamoLedger) -> None:
    first, second, third = _queued(ledger, 3)
    since = T0_MS - 1_000  # when its oldest waiting query came
    assert ledger.claim(first, "DML", 10, T0_MS, lift_s=40.0, lift_since_ms=since)
    assert _service(ledger, T0_MS).received_s == pytest.approx(40.0)
    assert ledger.tenants(["north"])["north"].service.claimed_ms == T0_MS
    # a second round that also saw the tenant rejoin may not lift it again: a slot went to it since
    assert not ledger.claim(second, "DML", 10, T0_MS + 5, lift_s=40.0, lift_since_ms=since)
    assert ledger.claim(second, "DML", 10, T0_MS + 5)
    assert _service(ledger, T0_MS).received_s == pytest.approx(40.0)
    # it rejoins again, while its two queries still run, once it has waited after its last slot
    assert ledger.claim(third, "DML", 10, T0_MS + 9_000, lift_s=10.0, lift_since_ms=T0_MS + 8_000)
    assert _service(ledger, T0_MS + 9_000).received_s == pytest.approx(50.0, rel=2e-2)  # 9 s of decay


def test_history_older_than_the_epoch_before_is_dropped_by_the_next_release(ledger: DynamoLedger) -> None:
    records = _queued(ledger, 2)
    epoch_ms = int(DECAY.epoch_s * 1000)
    start = (T0_MS // epoch_ms + 1) * epoch_ms  # the start of an epoch
    assert ledger.claim(records[0], "DML", 10, start)
    assert _finish(ledger, records[0], start, start + 50_000)
    assert ledger.claim(records[1], "DML", 10, start + 2 * epoch_ms)
    assert _finish(ledger, records[1], start + 2 * epoch_ms, start + 2 * epoch_ms + 10_000)
    history = ledger.tenants(["north"])["north"].service
    assert sorted(history.served) == [DECAY.epoch(start / 1000) + 2]
    assert _service(ledger, start + 2 * epoch_ms + 10_000).received_s == pytest.approx(10.0)
