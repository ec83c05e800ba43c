"""AIMD effective limit (I-7) and the start-rate token bucket."""

from __future__ import annotations

import pytest
from fairshare.domain import EffectiveLimit, LimitPolicy, TokenBucket, ValidationFailed
from hypothesis import given
from hypothesis import strategies as st

POLICY = LimitPolicy(ceiling=100, floor=2, decrease_factor=0.9, recovery_interval_s=10.0)

events = st.lists(
    st.tuples(st.sampled_from(["throttle", "quiet"]), st.floats(0, 60, allow_nan=False), st.integers(0, 150)),
    max_size=80,
)


@given(events)
def test_limit_stays_within_floor_and_ceiling(steps: list[tuple[str, float, int]]) -> None:
    now = 0.0
    limit = EffectiveLimit.initial(POLICY, now)
    for kind, gap, active in steps:
        now += gap
        before = limit.value
        if kind == "throttle":
            limit = limit.on_throttle(POLICY, now, active=active)
            assert limit.value <= max(before, POLICY.floor)
        else:
            limit = limit.recover(POLICY, now)
            assert limit.value >= before
        assert POLICY.floor <= limit.slots <= POLICY.ceiling


def test_throttle_cuts_multiplicatively_and_to_what_was_active() -> None:
    limit = EffectiveLimit.initial(POLICY, 0.0)
    assert limit.on_throttle(POLICY, 1.0).value == pytest.approx(90.0)
    assert limit.on_throttle(POLICY, 1.0, active=70).value == 70.0
    assert limit.on_throttle(POLICY, 1.0, active=0).value == POLICY.floor


def test_recovery_is_additive_per_quiet_interval_up_to_the_ceiling() -> None:
    limit = EffectiveLimit.initial(POLICY, 0.0).on_throttle(POLICY, 0.0, active=50)
    assert limit.recover(POLICY, 9.9).value == 50.0
    assert limit.recover(POLICY, 10.0).value == 51.0
    assert limit.recover(POLICY, 35.0).value == 53.0
    # stepwise recovery reaches the same value as one late recovery
    stepwise = limit
    for t in range(1, 36):
        stepwise = stepwise.recover(POLICY, float(t))
    assert stepwise.value == 53.0
    assert limit.recover(POLICY, 10_000.0).value == POLICY.ceiling


def test_a_lowered_ceiling_clamps_the_limit() -> None:
    limit = EffectiveLimit.initial(POLICY, 0.0)
    lower = LimitPolicy(ceiling=40, floor=2)
    assert limit.recover(lower, 1.0).slots == 40


def test_invalid_limit_policy_is_explained() -> None:
    with pytest.raises(ValidationFailed, match="floor <= ceiling"):
        LimitPolicy(ceiling=1, floor=5)
    with pytest.raises(ValidationFailed, match="decrease_factor"):
        LimitPolicy(ceiling=10, decrease_factor=1.5)


@given(st.lists(st.tuples(st.floats(0, 2, allow_nan=False), st.integers(1, 100)), max_size=200))
def test_token_bucket_never_exceeds_rate_plus_burst(requests: list[tuple[float, int]]) -> None:
    bucket = TokenBucket.full(rate_per_s=20.0, burst=80, now=0.0)
    now, taken = 0.0, 0
    for gap, wanted in requests:
        now += gap
        grant = min(wanted, bucket.available(now))
        bucket = bucket.take(grant, now)
        taken += grant
        assert taken <= 80 + 20.0 * now + 1e-6


def test_token_bucket_waits_and_refills() -> None:
    bucket = TokenBucket.full(rate_per_s=20.0, burst=80, now=0.0).take(80, 0.0)
    assert bucket.available(0.0) == 0
    assert bucket.seconds_until(10, 0.0) == pytest.approx(0.5)
    assert bucket.available(0.5) == 10
    assert bucket.available(100.0) == 80
    with pytest.raises(ValueError, match="asked for 11"):
        bucket.take(11, 0.5)
