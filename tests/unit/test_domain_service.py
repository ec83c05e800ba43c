"""Service history with decay (fairshare.domain.service): deposits add up to the decayed sum."""

from __future__ import annotations

import pytest
from fairshare.domain.errors import ValidationFailed
from fairshare.domain.service import EPOCH_HALF_LIVES, Service, ServiceDecay, ServiceHistory
from hypothesis import given
from hypothesis import strategies as st

DECAY = ServiceDecay(half_life_s=100.0)


@given(
    st.lists(
        st.tuples(st.floats(0, 1_000, allow_nan=False), st.floats(0, 5_000, allow_nan=False)),
        min_size=1,
        max_size=30,
    ),
    st.floats(0, 2_000, allow_nan=False),
)
def test_deposits_value_the_decayed_sum_of_what_was_deposited(
    events: list[tuple[float, float]], later: float
) -> None:
    history = ServiceHistory()
    events = sorted(events, key=lambda e: e[1])
    clock = 1_000_000.0
    for amount, offset in events:
        at_ms = round((clock + offset) * 1000)
        history = history.claimed(at_ms, amount, DECAY)
    now = clock + events[-1][1] + later
    expected = sum(
        amount * 2 ** (-(now - round((clock + offset) * 1000) / 1000) / DECAY.half_life_s)
        for amount, offset in events
        # only the current and the previous epoch are read: older deposits count as nothing
        if DECAY.epoch(round((clock + offset) * 1000) / 1000) >= DECAY.epoch(now) - 1
    )
    assert DECAY.value(history.lifted, now) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_a_deposit_two_epochs_old_has_decayed_below_the_cut() -> None:
    assert 2.0**-EPOCH_HALF_LIVES < 0.004
    history = ServiceHistory().claimed(0, 100.0, DECAY)
    assert DECAY.value(history.lifted, DECAY.epoch_s * 2) == 0.0
    assert DECAY.value(history.lifted, DECAY.epoch_s * 2 - 1) == pytest.approx(100 * 2 ** -(16 - 0.01))


def test_a_release_charges_claim_to_release_and_counts_one_completion() -> None:
    history = ServiceHistory().claimed(10_000, 0.0, DECAY).released(10_000, 40_000, DECAY)
    service = Service.of(history, running=0, now=40.0, decay=DECAY)
    assert (service.received_s, service.mean_run_s, service.elapsed_s) == pytest.approx((30.0, 30.0, 0.0))
    assert history.held_ms == 0 and service.released_at == 40.0


def test_elapsed_slot_seconds_of_running_queries_come_from_the_held_claim_times() -> None:
    history = ServiceHistory().claimed(10_000, 0.0, DECAY).claimed(20_000, 0.0, DECAY)
    assert Service.of(history, running=2, now=50.0, decay=DECAY).elapsed_s == pytest.approx(40 + 30)


def test_a_tenant_rejoins_when_no_slot_was_given_to_it_since_its_oldest_wait_began() -> None:
    served = Service(claimed_at=100.0)
    assert served.rejoins(waiting_since=150.0)  # nothing was queued between 100 and 150
    assert not served.rejoins(waiting_since=50.0)  # it kept work queued: slots went to it meanwhile
    assert Service().rejoins(waiting_since=0.0)  # never served: a newcomer


def test_the_half_life_must_be_positive() -> None:
    with pytest.raises(ValidationFailed):
        ServiceDecay(half_life_s=0)


def test_a_lift_counts_as_service_received_but_not_as_run_time() -> None:
    history = (
        ServiceHistory()
        .claimed(0, 0.0, DECAY)
        .released(0, 10_000, DECAY)  # one query of 10 s
        .claimed(20_000, 500.0, DECAY)  # rejoined after idling, lifted by 500 slot-seconds
    )
    service = Service.of(history, running=1, now=20.0, decay=DECAY)
    assert service.received_s == pytest.approx(510.0, rel=1e-2)  # decayed a little since
    assert service.mean_run_s == pytest.approx(10.0, rel=1e-2)
