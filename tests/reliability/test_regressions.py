"""Regression tests for the bugs the fault-injection campaign found (those of the ledger alone, such as
a fractional limit admitting one query too many, are in `tests/conformance`)."""

from __future__ import annotations

import pytest
from fairshare.domain.errors import DependencyUnavailable
from fairshare.ports import Finalization, QueryRecord

from tests.integration.conftest import Platform, dispatch, submit, tick


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
