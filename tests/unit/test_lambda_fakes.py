"""The in-memory Athena fake behaves like Athena where the platform depends on it."""

from __future__ import annotations

import pytest
from fairshare.ports import Permanent, QuotaThrottle, Transient
from fairshare_tools.testing.fakes import FakeAthena, FakeClock

TOKEN = "4c8f2d6e-0a3b-4e3e-9b61-9c4f7c8e1a20"


def test_the_same_client_request_token_returns_the_same_execution() -> None:
    athena = FakeAthena()
    first = athena.start(TOKEN, "SELECT 1", "wg", "default")

    assert athena.start(TOKEN, "SELECT 1", "wg", "default") == first
    assert len(athena.executions) == 1


def test_a_full_quota_raises_too_many_requests_but_a_replayed_token_still_answers() -> None:
    athena = FakeAthena(quota=1)
    first = athena.start(TOKEN, "SELECT 1", "wg", "default")

    with pytest.raises(QuotaThrottle):
        athena.start("another-token-0000000000000000000000", "SELECT 2", "wg", "default")
    assert athena.start(TOKEN, "SELECT 1", "wg", "default") == first


def test_scripted_errors_come_first_then_normal_behaviour() -> None:
    athena = FakeAthena()
    athena.script.append(Transient("InternalServerException", "boom"))

    with pytest.raises(Transient):
        athena.start(TOKEN, "SELECT 1", "wg", "default")
    assert athena.start(TOKEN, "SELECT 1", "wg", "default")


def test_queries_stay_running_until_finished_and_stop_cancels_them() -> None:
    athena = FakeAthena()
    running = athena.start(TOKEN, "SELECT 1", "wg", "default")
    stopped = athena.start("second-token-000000000000000000000000", "SELECT 2", "wg", "default")
    athena.stop(stopped)
    athena.finish(running, bytes_scanned=5)

    assert [e.state for e in athena.batch_get([running, stopped])] == ["SUCCEEDED", "CANCELLED"]
    assert athena.get(running).bytes_scanned == 5
    with pytest.raises(Permanent):
        athena.batch_get([TOKEN] * 51)


def test_the_clock_moves_only_when_told_or_slept() -> None:
    clock = FakeClock(100.0)
    clock.sleep(1.5)
    clock.advance(2)

    assert clock.now() == 103.5
    assert clock.slept == [1.5]
