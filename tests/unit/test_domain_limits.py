"""AIMD effective limit (I-7) and the start-rate token bucket."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fairshare.domain import EffectiveLimit, LimitPolicy, Room, TokenBucket, ValidationFailed, whole_slots
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


# --- steered by Athena's usage samples -------------------------------------------------------------
FULL = LimitPolicy(ceiling=20, floor=1, decrease_factor=0.95, recovery_interval_s=5.0, room_max_age_s=180.0)


def test_room_is_the_quota_less_the_foreign_part_of_the_sample() -> None:
    # 20 active in Athena, 15 of them ours: 5 foreign leave 15 of a quota of 20
    assert Room.of(quota=20, ceiling=20, sampled_active=20, ours=15, limit=15, at=60.0) == Room(
        15, 60.0, True
    )
    # headroom: never above the ceiling; more of ours than sampled means no foreign load
    assert Room.of(quota=20, ceiling=18, sampled_active=10, ours=12, limit=15, at=0.0).slots == 18
    assert Room.of(quota=20, ceiling=20, sampled_active=40, ours=0, limit=15, at=0.0).slots == 0
    assert Room.of(quota=20, ceiling=20, sampled_active=20, ours=9, limit=15, at=0.0).binding is False


def test_a_binding_room_holds_the_limit_instead_of_probing() -> None:
    throttled = EffectiveLimit.initial(FULL, 0.0).on_throttle(FULL, 100.0, active=15)
    held = Room(slots=15, at=120.0, binding=True)
    # classic AIMD would be back at 20 by t=125; the sample says foreign load holds 5 of the 20
    assert throttled.recover(FULL, 200.0, held).slots == 15
    # a sample taken before the throttle says nothing new: wait for the next one
    assert throttled.recover(FULL, 200.0, Room(slots=20, at=90.0)).slots == 15
    # a stale sample steers nothing: additive recovery
    assert throttled.recover(FULL, 400.0, held).slots == 20


def test_the_limit_jumps_to_the_room_once_the_foreign_load_leaves() -> None:
    throttled = EffectiveLimit.initial(FULL, 0.0).on_throttle(FULL, 100.0, active=15)
    recovered = throttled.recover(FULL, 181.0, Room(slots=20, at=180.0))
    assert recovered.slots == 20 and recovered.last_change_at == 181.0
    partly = throttled.recover(FULL, 181.0, Room(slots=17, at=180.0))
    assert partly.slots == 17


def test_a_room_that_does_not_bind_lets_the_limit_probe() -> None:
    throttled = EffectiveLimit.initial(FULL, 0.0).on_throttle(FULL, 100.0, active=15)
    idle = Room(slots=14, at=120.0, binding=False)
    assert throttled.recover(FULL, 105.0, idle).slots == 16


@given(
    st.lists(
        st.tuples(st.floats(0, 60, allow_nan=False), st.integers(0, 40), st.booleans(), st.booleans()),
        max_size=60,
    )
)
def test_the_limit_stays_within_floor_and_ceiling_with_samples(
    steps: list[tuple[float, int, bool, bool]],
) -> None:
    now = 0.0
    limit = EffectiveLimit.initial(FULL, now)
    for gap, slots, throttle, binding in steps:
        now += gap
        if throttle:
            limit = limit.on_throttle(FULL, now, active=slots)
        else:
            before = limit.value
            limit = limit.recover(FULL, now, Room(slots, now - gap / 2, binding))
            assert limit.value >= before  # recovery never lowers the limit
        assert FULL.floor <= limit.slots <= FULL.ceiling


@pytest.mark.parametrize(
    ("limit", "slots"),
    [
        (20.0, 20),
        (18.05, 18),  # 20 x 0.95 x 0.95: a fractional limit admits only whole queries
        (38.5, 38),
        (18.999999999999996, 19),  # float error just under a whole number
        (18.9999, 18),
        (0.4, 1),  # never fewer than one slot
        (0.0, 1),
    ],
)
def test_whole_slots_floors_the_limit_to_at_least_one_slot(limit: float, slots: int) -> None:
    assert whole_slots(limit) == slots
    assert EffectiveLimit(limit, 0.0).slots == slots


ROOT = Path(__file__).resolve().parents[2]
# A limit turned into slots outside domain/limits.py, not through whole_slots (or EffectiveLimit.slots).
OWN_ROUNDING = re.compile(r"EffectiveLimit\([^()]*\)\.slots|floor\([^()]*limit|int\([^()]*limit_value")


def test_no_module_rounds_a_limit_to_slots_on_its_own() -> None:
    sources = [p for d in ("lambda_src", "scripts", "localstack", "tests") for p in (ROOT / d).rglob("*.py")]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        if path.name not in ("limits.py", "test_domain_limits.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OWN_ROUNDING.search(line)
    ]
    assert offenders == []
