"""Service received: each tenant's slot-seconds, with history that decays (the fair-share state).

A tenant's service at time t is Σ d_k · 2^(-(t - t_k)/H): every slot-second d_k it was given (known
when its slot is released at t_k), halved every half-life H. The ledger has to add to it from any
number of concurrent releases without reading it first, so it is kept as *deposits*: each d_k is
stored scaled to the start e of its epoch, d_k · 2^((t_k - e)/H), and summed per epoch with one atomic
ADD. An epoch lasts EPOCH_HALF_LIVES half-lives, so a scale never exceeds 2^EPOCH_HALF_LIVES. Reading
sums the current and the previous epoch; a deposit older than that has decayed below
2^-EPOCH_HALF_LIVES of its value and is dropped (the writer removes the epoch before the previous).

The same decay counts completions, which gives each tenant's mean run time, the charge of a query it
has just been admitted (see `fairshare.domain.admission`), and keeps the lifts of a tenant that
rejoined (they count as service received, but are no query's run time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from fairshare.domain.errors import ValidationFailed

EPOCH_HALF_LIVES = 8
# Run time assumed for a tenant before any of its queries has finished, when no tenant has history.
DEFAULT_RUN_S = 1.0


@dataclass(slots=True, frozen=True)
class ServiceDecay:
    """The decay of service history: halved every `half_life_s` (yesterday does not decide today)."""

    half_life_s: float = 3600.0

    def __post_init__(self) -> None:
        if not self.half_life_s > 0:
            raise ValidationFailed(f"half_life_s must be > 0, got {self.half_life_s}")

    @property
    def epoch_s(self) -> float:
        return EPOCH_HALF_LIVES * self.half_life_s

    def epoch(self, now: float) -> int:
        return math.floor(now / self.epoch_s)

    def deposit(self, amount: float, now: float) -> tuple[int, float]:
        """The epoch and the scaled amount that add `amount` (valued at `now`) to a history."""
        epoch = self.epoch(now)
        return epoch, amount * 2.0 ** ((now - epoch * self.epoch_s) / self.half_life_s)

    def value(self, deposits: Mapping[int, float], now: float) -> float:
        """A history's value at `now`: the current and the previous epoch's deposits, decayed."""
        epoch = self.epoch(now)
        total = 0.0
        for key in (epoch, epoch - 1):
            scaled = deposits.get(key)
            if scaled:
                total += scaled * 2.0 ** (-(now - key * self.epoch_s) / self.half_life_s)
        return total

    def expired(self, now: float) -> int:
        """The epoch a writer at `now` may remove: no reader counts it any more."""
        return self.epoch(now) - 2


@dataclass(slots=True, frozen=True)
class ServiceHistory:
    """What the ledger keeps per tenant for fair share, as stored.

    `served`, `finished` and `lifted` are deposits per epoch (slot-seconds of released queries;
    completions; slot-seconds credited to the tenant when it rejoined after being idle); `held_ms` is the sum
    of the claim times (epoch ms) of the tenant's queries that hold a slot now, so that their elapsed
    slot-seconds are `running · now - held_ms / 1000`; `released_ms` is when its last slot was
    released (0: never), which tells a tenant that was idle from one that kept work queued.
    """

    served: Mapping[int, float] = field(default_factory=dict)
    finished: Mapping[int, float] = field(default_factory=dict)
    held_ms: int = 0
    released_ms: int = 0
    lifted: Mapping[int, float] = field(default_factory=dict)
    claimed_ms: int = 0  # the tenant's last claim (0: never)

    # The ledger's transitions, for ledgers held in memory; the DynamoDB ledger writes the same
    # changes as ADD/REMOVE clauses of its claim, release and requeue transactions.
    def claimed(self, now_ms: int, lift_s: float, decay: ServiceDecay) -> ServiceHistory:
        lifted = _deposited(self.lifted, lift_s, now_ms / 1000, decay) if lift_s > 0 else self.lifted
        return ServiceHistory(
            self.served,
            self.finished,
            self.held_ms + now_ms,
            self.released_ms,
            lifted,
            max(self.claimed_ms, now_ms),
        )

    def released(self, admitted_at_ms: int, now_ms: int, decay: ServiceDecay) -> ServiceHistory:
        now = now_ms / 1000
        slot_seconds = max(0, now_ms - admitted_at_ms) / 1000
        return ServiceHistory(
            _deposited(self.served, slot_seconds, now, decay),
            _deposited(self.finished, 1.0, now, decay),
            self.held_ms - admitted_at_ms,
            max(self.released_ms, now_ms),
            {key: value for key, value in self.lifted.items() if key > decay.expired(now)},
            self.claimed_ms,
        )

    def requeued(self, admitted_at_ms: int) -> ServiceHistory:
        """A start Athena refused (I-7): the slot is given back uncharged."""
        return ServiceHistory(
            self.served,
            self.finished,
            self.held_ms - admitted_at_ms,
            self.released_ms,
            self.lifted,
            self.claimed_ms,
        )


def _deposited(
    deposits: Mapping[int, float], amount: float, now: float, decay: ServiceDecay
) -> dict[int, float]:
    epoch, scaled = decay.deposit(amount, now)
    expired = decay.expired(now)
    updated = {key: value for key, value in deposits.items() if key > expired}
    updated[epoch] = updated.get(epoch, 0.0) + scaled
    return updated


@dataclass(slots=True, frozen=True)
class Service:
    """A tenant's service at one instant, as admission compares it."""

    received_s: float = 0.0  # decayed slot-seconds of its released queries, and its lifts
    elapsed_s: float = 0.0  # slot-seconds its running queries have held so far
    mean_run_s: float | None = None  # decayed mean slot-seconds of a query, None before any finished
    released_at: float | None = None  # when its last slot was released, None if never
    claimed_at: float | None = None  # when it was last given a slot, None if never

    @classmethod
    def of(cls, history: ServiceHistory, running: int, now: float, decay: ServiceDecay) -> Service:
        served = decay.value(history.served, now)
        received = served + decay.value(history.lifted, now)
        finished = decay.value(history.finished, now)
        elapsed = 0.0
        if running > 0 and history.held_ms > 0:
            # Bounded by what `running` queries could have held since the oldest epoch still read,
            # so a history from before `held_ms` existed cannot count as an eternity of service.
            elapsed = min(max(0.0, running * now - history.held_ms / 1000), running * 2 * decay.epoch_s)
        mean = served / finished if finished > 1e-9 else None
        released = history.released_ms / 1000 if history.released_ms else None
        claimed = history.claimed_ms / 1000 if history.claimed_ms else None
        return cls(
            received_s=received, elapsed_s=elapsed, mean_run_s=mean, released_at=released, claimed_at=claimed
        )

    def rejoins(self, waiting_since: float) -> bool:
        """Whether the tenant had nothing queued just before its oldest waiting query came: it has not
        been given a slot since that query was submitted (a query waiting then would have been given
        the slots since, in its tenant's order, before this one). Such a tenant was not backlogged,
        so the service it missed meanwhile is no debt owed to it (start-time fair queueing's
        start tag, max(virtual time, its own))."""
        return self.claimed_at is None or self.claimed_at < waiting_since
