"""The reduced fault-injection campaign (every fault kind on, at higher rates than the full one), and
proof that its checks fail when an invariant is broken on purpose. `make reliability` runs the full
10,000-query campaign."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from tests.reliability.harness import CampaignSpec, Figures, quiet_lambdas, run_campaign

REDUCED = CampaignSpec(
    queries=300,
    seed=11,
    storm_every_s=60,
    storm_length_s=20,
    foreign_load=58,  # quota storms leave 2 of 60 slots: any round with 2 of ours active is throttled
    lost_event=0.08,
    duplicate_event=0.09,
    reordered_event=0.07,
    duplicate_delivery=0.07,
    rate_throttle=0.02,
    server_error_before=0.03,
    server_error_after=0.07,
    read_error=0.02,
    permanent_sql=0.02,
    athena_failure=0.02,
    throughput_exceeded=0.005,
    transaction_conflict=0.02,
    lost_race=0.07,
    crash_after_start=0.10,
    crash_after_finalize=0.07,
)
FAULT_KINDS = {
    "sqs_duplicate_delivery",
    "athena_quota_throttle",
    "athena_rate_throttle",
    "athena_5xx",
    "athena_5xx_after_start",
    "ddb_conditional_check_conflict",
    "ddb_transaction_conflict",
    "ddb_throughput_exceeded",
    "crash_after_start",
    "crash_after_finalize",
    "event_lost",
    "event_duplicated",
    "event_reordered",
}


# Every check holds for any interleaving of the parallel dispatcher threads, so one run decides: the
# invariants hold whatever the order, and a fault kind's first chance is always a hit (`Dice`), so a
# kind that never fired means its injection point is gone (at these rates each kind is expected at
# least 13 times in 300 queries besides).
def test_the_reduced_campaign_keeps_every_invariant() -> None:
    figures = run_campaign(REDUCED)
    print("\n" + figures.table())
    assert figures.problems == []
    assert figures.accepted == REDUCED.queries
    assert figures.lost == 0  # I-1
    assert figures.double_started == 0  # I-3
    assert figures.max_active <= figures.limit and figures.claim_overshoot == 0  # I-2
    assert figures.counters_match
    assert figures.permanent_retried == 0  # I-8
    assert sum(figures.terminal.values()) == REDUCED.queries
    assert figures.terminal.get("FAILED", 0) >= 1  # the permanent and in-Athena failures ended FAILED
    missing = {kind for kind in FAULT_KINDS if figures.faults.get(kind, 0) == 0}
    assert missing == set(), f"fault kinds never injected: {missing}"


def _small(**changes: object) -> Figures:
    spec = CampaignSpec(queries=40, seed=3, max_drain_s=240, storm_every_s=0)
    for name, value in changes.items():
        setattr(spec, name, value)
    return run_campaign(spec)


def test_the_campaign_reports_lost_queries_when_nothing_recovers_lost_events() -> None:
    figures = _small(ticks=False, lost_event=1.0)
    assert figures.lost > 0
    assert any(p.startswith("I-1") for p in figures.problems)


def test_the_campaign_reports_double_starts_when_athena_ignores_the_token() -> None:
    figures = _small(athena_honours_tokens=False, server_error_after=0.5)
    assert figures.double_started > 0
    assert any(p.startswith("I-3") for p in figures.problems)


def test_the_campaign_reports_retried_permanent_errors_when_the_dispatcher_misses_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fairshare.services import lifecycle

    class NeverRaised(Exception):
        pass

    monkeypatch.setattr(lifecycle, "Permanent", NeverRaised)  # a refused start escapes as a crash
    figures = _small(permanent_sql=0.3)
    assert figures.permanent_retried > 0
    assert any(p.startswith("I-8") for p in figures.problems)


def test_the_campaign_reports_a_handler_error_that_no_fault_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQS retries, the DLQ and reconcile would finish these queries anyway; the check must still fail.
    from fairshare.handlers import completion

    def broken(*_: object) -> str:
        raise KeyError("a defect in the completion path")

    monkeypatch.setattr(completion, "on_state_change", broken)
    figures = _small()
    assert figures.handler_errors.get("completion record:KeyError", 0) > 0
    assert any(p.startswith("unexpected handler errors") for p in figures.problems)


def test_a_run_leaves_the_callers_spec_as_it_was() -> None:
    # The drain turns faults off; doing that in the caller's spec made a rerun start with them off.
    spec = CampaignSpec(queries=20, seed=5, max_drain_s=240, storm_every_s=0)
    before = replace(spec)
    run_campaign(spec)
    assert spec == before


def test_quieting_the_lambdas_turns_no_placeholder_into_a_logger() -> None:
    # A real logger between a Powertools child logger and its service logger orphans the child.
    logging.getLogger("athena-fairshare-quiet.fairshare.services.x")
    with quiet_lambdas():
        pass
    assert isinstance(
        logging.Logger.manager.loggerDict["athena-fairshare-quiet.fairshare"], logging.PlaceHolder
    )
