"""A stage held entirely in memory: the services' `Deps` over the in-memory ledger and the fakes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fairshare.config import Config
from fairshare.services.deps import Deps

from fairshare_tools.testing.fakes import (
    FakeAthena,
    FakeClock,
    FakeResultStore,
    FixedUsage,
    RecordingMetrics,
    RecordingNotifier,
    RecordingWakeups,
)
from fairshare_tools.testing.memory_ledger import MemoryLedger


@dataclass
class MemoryStage:
    """The deps, and each fake under its own type, so tests can steer and inspect them."""

    deps: Deps
    ledger: MemoryLedger
    athena: FakeAthena
    clock: FakeClock
    metrics: RecordingMetrics
    notifier: RecordingNotifier
    wakeups: RecordingWakeups
    usage: FixedUsage


def memory_stage(config: Config, seed: int = 7) -> MemoryStage:
    """Deps for `config` with every port in memory; each tenant's results under its own prefix."""
    ledger = MemoryLedger(config.query_ttl_days, config.decay)
    outputs = {
        tenant.workgroup: f"s3://{config.results_bucket}/{config.results_prefix}{name}/"
        for name, tenant in config.tenants.items()
    }
    athena, clock, metrics = FakeAthena(outputs=outputs), FakeClock(), RecordingMetrics()
    notifier, wakeups, usage = RecordingNotifier(), RecordingWakeups(), FixedUsage()
    deps = Deps(
        config=config,
        ledger=ledger,
        athena=athena,
        clock=clock,
        metrics=metrics,
        notifier=notifier,
        wakeups=wakeups,
        results=FakeResultStore(),
        usage=usage,
        rng=random.Random(seed),
    )
    return MemoryStage(deps, ledger, athena, clock, metrics, notifier, wakeups, usage)
