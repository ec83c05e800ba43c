"""Regression tests for the bugs the fault-injection campaign found."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.domain.errors import DependencyUnavailable
from fairshare.ports import Finalization, QueryRecord

from tests.integration.conftest import Platform, create_tables, dispatch, submit, tick
from tests.reliability.harness import aws_env


@pytest.fixture
def ledger() -> Iterator[DynamoLedger]:
    with aws_env():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        yield DynamoLedger(client, "queries", "state")


def _queued(ledger: DynamoLedger, n: int) -> list[QueryRecord]:
    records = []
    for seq in range(1, n + 1):
        record = QueryRecord(
            query_id=f"00000000-0000-4000-8000-{seq:012d}",
            tenant="north",
            status="QUEUED",
            sql=f"SELECT {seq}",
            database="default",
            workgroup="wg",
            statement_class="DML",
            priority=1,
            seq=seq,
            submitted_at=1_800_000_000_000 + seq,
        )
        ledger.submit(record, max_queued=100)
        records.append(record)
    return records


def test_a_fractional_effective_limit_admits_only_its_whole_slots(ledger: DynamoLedger) -> None:
    # AIMD leaves fractional limits (55 * 0.7 = 38.5). The claim compared the active count with the
    # fractional value, so 38 < 38.5 admitted a 39th query over a limit of 38 slots (I-2).
    ledger.ensure_pool("DML", 3.0, 1_800_000_000.0)
    assert ledger.save_limit("DML", 2.5, 1_800_000_001.0, 1_800_000_001.0, expected_changed_at=None)
    claimed = [r for r in _queued(ledger, 3) if ledger.claim(r, "DML", 10, 1_800_000_002_000)]
    assert len(claimed) == 2
    assert ledger.pools(["DML"])["DML"].active == 2


def test_the_limit_recovering_to_a_whole_value_admits_again(ledger: DynamoLedger) -> None:
    ledger.ensure_pool("DML", 3.0, 1_800_000_000.0)
    ledger.save_limit("DML", 1.5, 1_800_000_001.0, 1_800_000_001.0, expected_changed_at=None)
    first, second = _queued(ledger, 2)
    assert ledger.claim(first, "DML", 10, 1_800_000_002_000)
    assert not ledger.claim(second, "DML", 10, 1_800_000_002_000)
    assert ledger.save_limit("DML", 2.5, 1_800_000_011.0, None, expected_changed_at=1_800_000_001.0)
    assert ledger.claim(second, "DML", 10, 1_800_000_012_000)


def test_a_refused_start_is_recorded_even_if_the_ledger_throttles_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The campaign saw StartQueryExecution called again after a permanent refusal: the FAILED write was
    # throttled, the claim stayed ADMITTED, and reconcile started it again (I-8).
    platform.athena.permanent_sql.add("missing_table")
    query_id = submit("SELECT * FROM missing_table")[1]["query_id"]
    real = platform.ledger.finalize
    failures = iter([DependencyUnavailable("ledger transact_write_items failed: ProvisionedThroughput")])

    def flaky(record: QueryRecord, outcome: Finalization) -> bool:
        for failure in failures:
            raise failure
        return real(record, outcome)

    monkeypatch.setattr(platform.ledger, "finalize", flaky)
    dispatch()
    platform.clock.advance(120)
    tick()
    record = platform.ledger.get(query_id)
    assert record is not None and (record.status, record.error_kind) == ("FAILED", "permanent")
    assert platform.athena.start_calls == 1
    assert platform.state("pool#DML")["active"] == 0
