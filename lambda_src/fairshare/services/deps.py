"""The dependencies every service receives: configuration plus one implementation of each port."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fairshare.config import Config
from fairshare.ports import Athena, Clock, Ledger, Metrics, Notifier, ResultStore, Usage, Wakeups


@dataclass(slots=True)
class Deps:
    config: Config
    ledger: Ledger
    athena: Athena
    clock: Clock
    metrics: Metrics
    notifier: Notifier
    wakeups: Wakeups
    results: ResultStore
    usage: Usage
    rng: random.Random = field(default_factory=random.Random)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def today(self) -> str:
        return utc_day(self.clock.now())


def utc_day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")
