"""A start-rate token bucket, so a big refill never exceeds StartQueryExecution's API rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fairshare.domain.errors import ValidationFailed


@dataclass(slots=True, frozen=True)
class TokenBucket:
    rate_per_s: float
    burst: int
    tokens: float
    updated_at: float

    def __post_init__(self) -> None:
        if not self.rate_per_s > 0 or self.burst < 1:
            raise ValidationFailed(
                f"token bucket needs rate > 0 and burst >= 1, got {self.rate_per_s}/{self.burst}"
            )

    @classmethod
    def full(cls, rate_per_s: float = 20.0, burst: int = 80, now: float = 0.0) -> TokenBucket:
        return cls(rate_per_s=rate_per_s, burst=burst, tokens=float(burst), updated_at=now)

    def refill(self, now: float) -> TokenBucket:
        if now <= self.updated_at:
            return self
        tokens = min(float(self.burst), self.tokens + (now - self.updated_at) * self.rate_per_s)
        return TokenBucket(self.rate_per_s, self.burst, tokens, now)

    def available(self, now: float) -> int:
        return math.floor(self.refill(now).tokens + 1e-9)

    def take(self, count: int, now: float) -> TokenBucket:
        bucket = self.refill(now)
        if count > bucket.available(now):
            raise ValueError(f"asked for {count} tokens, {bucket.tokens:.2f} available")
        return TokenBucket(self.rate_per_s, self.burst, bucket.tokens - count, bucket.updated_at)

    def seconds_until(self, count: int, now: float) -> float:
        """How long until `count` tokens are available (0 if they are now)."""
        missing = min(count, self.burst) - self.refill(now).tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate_per_s
