"""The effective limit of a pool under AIMD (I-7), steered by Athena's own usage samples.

A quota throttle means foreign load shares the quota: cut the limit multiplicatively (never below
the floor, and never above what was active when the quota was found full).

How it comes back up depends on what is known of the foreign load:
- With a fresh usage sample (Athena's account-wide active count, `AWS/Usage` `ResourceCount`
  `ActiveQueryCount`, taken after the last throttle), the limit rises at once to the room the sample
  leaves (`Room`: quota minus the foreign part of the count), and while the limit binds it does not
  probe above that room. A plateau of foreign load then costs the throttles that found it, not one
  more per recovery interval.
- Without one (no sample yet since the throttle, or none at all), it recovers additively, one step per
  quiet interval, up to `quota - headroom`: the probe of classic AIMD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fairshare.domain.errors import ValidationFailed


def whole_slots(limit: float) -> int:
    """The whole slots an effective limit gives: the one definition of slot rounding.

    AIMD makes the limit fractional (20 x 0.95 = 19.0, then 18.05); admission and the ledger's claim
    count whole queries, so a limit of 18.05 is 18 slots (comparing with 18.05 would admit a 19th).
    The tolerance keeps a value that float arithmetic left a hair under a whole number (18.999999999999996)
    at that number; and never fewer than one slot, so a pool is never closed by rounding.
    """
    return max(1, math.floor(limit + 1e-9))


@dataclass(slots=True, frozen=True)
class LimitPolicy:
    ceiling: int
    floor: int = 1
    decrease_factor: float = 0.95
    recovery_interval_s: float = 5.0
    increase_step: float = 1.0
    # A usage sample older than this steers nothing: the limit probes as classic AIMD.
    room_max_age_s: float = 180.0

    def __post_init__(self) -> None:
        if self.floor < 1 or self.ceiling < self.floor:
            raise ValidationFailed(
                f"limit needs 1 <= floor <= ceiling, got floor={self.floor} ceiling={self.ceiling}"
            )
        if not 0 < self.decrease_factor < 1:
            raise ValidationFailed(f"decrease_factor must be within (0, 1), got {self.decrease_factor}")
        if not self.recovery_interval_s > 0 or not self.increase_step > 0 or not self.room_max_age_s > 0:
            raise ValidationFailed("recovery_interval_s, increase_step and room_max_age_s must be > 0")


@dataclass(slots=True, frozen=True)
class Room:
    """The slots a usage sample leaves to the platform: `min(ceiling, quota - foreign)`.

    `foreign` is the sampled account-wide active count minus our own active count when the sample is
    read (the ledger's; ours at the sample's instant is not known, so the estimate is off by the starts
    and completions in between). `binding`: our effective limit was full when the sample was read; only
    then does a room at or under the limit say that foreign load holds the rest. Otherwise the limit
    is not what holds our queries back, the estimate is mostly that noise, and the limit probes as
    classic AIMD.
    """

    slots: int
    at: float  # when Athena's count was sampled
    binding: bool = True

    @staticmethod
    def foreign(sampled_active: int, ours: int) -> int:
        """Foreign load's part of a sampled active count."""
        return max(0, sampled_active - max(0, ours))

    @classmethod
    def of(cls, quota: int, ceiling: int, sampled_active: int, ours: int, limit: int, at: float) -> Room:
        foreign = cls.foreign(sampled_active, ours)
        return cls(slots=max(0, min(ceiling, quota - foreign)), at=at, binding=ours >= limit)


@dataclass(slots=True, frozen=True)
class EffectiveLimit:
    value: float
    last_change_at: float
    last_throttle_at: float | None = None

    @classmethod
    def initial(cls, policy: LimitPolicy, now: float) -> EffectiveLimit:
        return cls(value=float(policy.ceiling), last_change_at=now)

    @property
    def slots(self) -> int:
        return whole_slots(self.value)

    def on_throttle(self, policy: LimitPolicy, now: float, active: int | None = None) -> EffectiveLimit:
        """Multiplicative decrease. `active`: our queries active when Athena reported the quota full."""
        target = self.value * policy.decrease_factor
        if active is not None:
            target = min(target, float(active))
        value = min(float(policy.ceiling), max(float(policy.floor), target))
        return EffectiveLimit(value=value, last_change_at=now, last_throttle_at=now)

    def recover(self, policy: LimitPolicy, now: float, room: Room | None = None) -> EffectiveLimit:
        """Up to the room a fresh usage sample shows, else one additive step per full quiet interval."""
        ceiling = float(policy.ceiling)
        if self.value >= ceiling:
            return self if self.value == ceiling else replace(self, value=ceiling, last_change_at=now)
        if room is not None and now - room.at <= policy.room_max_age_s:
            if self.last_throttle_at is not None and room.at <= self.last_throttle_at:
                return self  # the sample predates what the throttle taught: wait for the next one
            target = min(ceiling, max(float(policy.floor), float(room.slots)))
            if target > self.value:
                return replace(self, value=target, last_change_at=now)
            if room.binding:
                return self  # foreign load holds the rest: no probe into it
        intervals = math.floor((now - self.last_change_at) / policy.recovery_interval_s)
        if intervals <= 0:
            return self
        value = min(ceiling, self.value + intervals * policy.increase_step)
        return replace(
            self, value=value, last_change_at=self.last_change_at + intervals * policy.recovery_interval_s
        )
