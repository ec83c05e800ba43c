"""The dependencies every service receives: configuration plus one implementation of each port."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from fairshare.config import Config
from fairshare.domain import Admission, Snapshot, plan_admissions
from fairshare.ports import (
    Athena,
    Clock,
    Ledger,
    Metrics,
    Notifier,
    PerTenant,
    ResultStore,
    Usage,
    Wakeups,
)

T = TypeVar("T")
# Independent ledger and Athena calls of one invocation (a round's admissions, its tenants' queued
# heads, a submit's wake-up and position) run side by side, this many at a time.
CONCURRENCY = 16


@dataclass(slots=True)
class Deps:
    config: Config
    ledger: Ledger
    # Athena and the result store are reached as a query's tenant: `deps.athena.as_tenant(t).start(...)`.
    athena: PerTenant[Athena]
    clock: Clock
    metrics: Metrics
    notifier: Notifier
    wakeups: Wakeups
    results: PerTenant[ResultStore]
    usage: Usage
    rng: random.Random = field(default_factory=random.Random)
    # 1: one call after another, in order (the simulator, whose runs must repeat exactly)
    concurrency: int = CONCURRENCY
    # How a round orders its admissions: the domain's `plan_admissions` (the Lambdas' only one, with the
    # stage's share policy). The simulator passes other designs here (its fifo and round-robin baselines),
    # so that they too run the dispatcher's round and differ only in order.
    planner: Callable[[Snapshot], list[Admission]] = plan_admissions

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def today(self) -> str:
        return utc_day(self.clock.now())

    def side_by_side(self, work: list[Callable[[], T]]) -> list[T]:
        """Run independent calls at once (up to `concurrency` threads); results in order. After all
        have finished, the first call that raised raises again."""
        if len(work) <= 1 or self.concurrency <= 1:
            return [call() for call in work]
        with ThreadPoolExecutor(max_workers=min(len(work), self.concurrency)) as pool:
            futures = [pool.submit(call) for call in work]
        return [future.result() for future in futures]


def utc_day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")
