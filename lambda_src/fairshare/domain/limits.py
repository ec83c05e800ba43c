"""The effective limit of a pool under AIMD (I-7).

A quota throttle means foreign load shares the quota: cut the limit multiplicatively (never below
the floor, and never above what was active when the quota was found full), then recover additively,
one step per quiet interval, up to `quota - headroom`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fairshare.domain.errors import ValidationFailed


@dataclass(slots=True, frozen=True)
class LimitPolicy:
    ceiling: int
    floor: int = 1
    decrease_factor: float = 0.95
    recovery_interval_s: float = 5.0
    increase_step: float = 1.0

    def __post_init__(self) -> None:
        if self.floor < 1 or self.ceiling < self.floor:
            raise ValidationFailed(
                f"limit needs 1 <= floor <= ceiling, got floor={self.floor} ceiling={self.ceiling}"
            )
        if not 0 < self.decrease_factor < 1:
            raise ValidationFailed(f"decrease_factor must be within (0, 1), got {self.decrease_factor}")
        if not self.recovery_interval_s > 0 or not self.increase_step > 0:
            raise ValidationFailed("recovery_interval_s and increase_step must be > 0")


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
        return max(1, math.floor(self.value + 1e-9))

    def on_throttle(self, policy: LimitPolicy, now: float, active: int | None = None) -> EffectiveLimit:
        """Multiplicative decrease. `active`: our queries active when Athena reported the quota full."""
        target = self.value * policy.decrease_factor
        if active is not None:
            target = min(target, float(active))
        value = min(float(policy.ceiling), max(float(policy.floor), target))
        return EffectiveLimit(value=value, last_change_at=now, last_throttle_at=now)

    def recover(self, policy: LimitPolicy, now: float) -> EffectiveLimit:
        """Additive increase: one step per full quiet interval since the last change."""
        ceiling = float(policy.ceiling)
        if self.value >= ceiling:
            return self if self.value == ceiling else replace(self, value=ceiling, last_change_at=now)
        intervals = math.floor((now - self.last_change_at) / policy.recovery_interval_s)
        if intervals <= 0:
            return self
        value = min(ceiling, self.value + intervals * policy.increase_step)
        return replace(
            self, value=value, last_change_at=self.last_change_at + intervals * policy.recovery_interval_s
        )
