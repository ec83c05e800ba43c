"""The platform's own services, wired for the simulator: the in-memory ledger and simulated ports.

A dispatcher policy of the simulator (`fairshare`, `weighted_fair`) runs the code the Lambdas run:
`services.submission.submit` for each arrival, `services.completion.on_state_change` and
`services.dispatch.refill` for each completion event (as the completion handler does),
`Dispatcher.run_round` for each wake-up, and the tick's `observe_usage`, round and `reconcile`. What
the Lambdas get from AWS comes from the simulation instead:
- `SimAthena`: StartQueryExecution against the simulated quota (TooManyRequests when it is full),
  idempotent on the client token (I-3), and the executions' states;
- `SimClock`: the simulated time, as epoch seconds (`EPOCH` + simulated seconds); a sleep takes no
  simulated time (the simulation has no transient errors, so nothing waits on a backoff);
- `SimWakeups`: a wake-up is a dispatcher round `submit_delay_s` later (SQS and the event-source
  mapping); `SimUsage`: the usage samples the simulation took, each visible `usage_delay_s` late;
- `SimMetrics`: the metrics the services emit, kept by name; the effective limit goes to the recorder.
Calls run one after another (`Deps.concurrency` 1), so a run repeats exactly.
"""

from __future__ import annotations

import bisect
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fairshare.adapters.usage import LOOKBACK_S
from fairshare.config import Config, PoolConfig
from fairshare.domain.model import POOLS, PoolName, SharePolicy, TenantPolicy
from fairshare.ports import (
    Execution,
    Permanent,
    QuotaThrottle,
    ResultPage,
    UsageSample,
)
from fairshare.services.deps import Deps

# Simulated time 0 as epoch seconds: the ledger keeps epoch milliseconds, in which 0 means "never".
EPOCH = 1_800_000_000.0
WORKGROUP_PREFIX = "sim-"
DATABASE = "default"


def config_for(
    tenants: Sequence[TenantPolicy],
    pools: Mapping[PoolName, PoolConfig],
    share: SharePolicy,
    start_rate_per_s: float,
    start_burst: int,
    share_half_life_s: float,
) -> Config:
    """The stage configuration a scenario stands for (resource names are placeholders)."""
    return Config.model_validate(
        {
            "stage": "sim",
            "queries_table": "sim-queries",
            "state_table": "sim-state",
            "submissions_queue_url": "sim://submissions",
            "submissions_dlq_url": "sim://submissions-dlq",
            "events_queue_url": "sim://events",
            "events_dlq_url": "sim://events-dlq",
            "results_bucket": "sim-results",
            "pools": dict(pools),
            "tenants": {
                policy.name: {
                    "weight": policy.weight,
                    "max_concurrency": policy.max_concurrency,
                    "max_queued": policy.max_queued,
                    "allow_ddl": policy.allow_ddl,
                    "priority_levels": policy.priority_levels,
                    "aging_seconds": policy.aging_seconds,
                    "max_aging_boost": policy.max_aging_boost,
                    "workgroup": WORKGROUP_PREFIX + policy.name,
                    "databases": [DATABASE],
                }
                for policy in tenants
            },
            "start_rate_per_s": start_rate_per_s,
            "start_burst": start_burst,
            "share_policy": share,
            "share_half_life_s": share_half_life_s,
            "log_level": "ERROR",
        }
    )


class SimClock:
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return EPOCH + self._now()

    def sleep(self, seconds: float) -> None:
        """No simulated time passes within one event."""


@dataclass(slots=True)
class _SimExecution:
    query_id: str
    workgroup: str
    state: str = "RUNNING"


class SimAthena:
    """Athena as the services call it. `try_start(query_id)` asks the simulation to start a query
    (False: the quota is full); the simulation calls `finished` when one ends."""

    def __init__(self, try_start: Callable[[str], bool]) -> None:
        self._try_start = try_start
        self._executions: dict[str, _SimExecution] = {}
        self._by_token: dict[str, str] = {}

    def as_tenant(self, tenant: str) -> SimAthena:
        """Simulated tenants share one identity: the simulation has no IAM."""
        return self

    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        known = self._by_token.get(query_id)
        if known is not None:
            return known  # I-3: the same ClientRequestToken finds the same execution
        if not self._try_start(query_id):
            raise QuotaThrottle("TooManyRequestsException", "active queries at the quota")
        execution_id = f"sim-exec-{len(self._executions) + 1:08d}"
        self._executions[execution_id] = _SimExecution(query_id, workgroup)
        self._by_token[query_id] = execution_id
        return execution_id

    def execution_of(self, query_id: str) -> str:
        return self._by_token[query_id]

    def workgroup_of(self, execution_id: str) -> str:
        return self._executions[execution_id].workgroup

    def finished(self, execution_id: str) -> None:
        self._executions[execution_id].state = "SUCCEEDED"

    def stop(self, execution_id: str) -> None:
        raise Permanent("InvalidRequestException", "the simulation does not stop queries")

    def get(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise Permanent("InvalidRequestException", f"unknown execution {execution_id}")
        return Execution(execution_id=execution_id, state=execution.state, workgroup=execution.workgroup)

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        return [self.get(execution_id) for execution_id in execution_ids if execution_id in self._executions]

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage:
        raise Permanent("InvalidRequestException", "the simulation keeps no results")


class SimWakeups:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self.dead_letters: list[str] = []

    def wake(self, reason: str, query_id: str | None = None) -> None:
        self._wake()

    def dead_letter(self, reason: str, query_id: str) -> None:
        self.dead_letters.append(query_id)


class SimUsage:
    """The usage samples the simulation took, per pool, each visible `delay_s` after it was taken;
    like CloudWatch's, the latest of the last `LOOKBACK_S` seconds."""

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._samples: dict[str, list[UsageSample]] = {pool: [] for pool in POOLS}

    def sample(self, pool: PoolName, at: float, active: int) -> None:
        self._samples[pool].append(UsageSample(at=EPOCH + at, active=active))

    def latest(self, pools: Sequence[str], now: float) -> dict[str, UsageSample]:
        latest: dict[str, UsageSample] = {}
        for pool in pools:
            samples = self._samples[pool]
            visible = bisect.bisect_right(samples, now - self._delay_s, key=lambda sample: sample.at)
            if visible and samples[visible - 1].at >= now - LOOKBACK_S:
                latest[pool] = samples[visible - 1]
        return latest


class SimMetrics:
    """The services' metrics; `on_limit(pool, slots)` hears every EffectiveLimit they emit."""

    def __init__(self, on_limit: Callable[[PoolName, int], None]) -> None:
        self._on_limit = on_limit
        self.totals: defaultdict[str, float] = defaultdict(float)

    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        if name == "EffectiveLimit":
            self._on_limit(dimensions["pool"], int(value))  # type: ignore[arg-type]
            return
        self.totals[name] += value


class _NoNotifier:
    def notify(self, topic_arn: str, subject: str, message: Mapping[str, Any]) -> None:
        """Simulated tenants have no topics."""


class _NoResults:
    def as_tenant(self, tenant: str) -> _NoResults:
        return self

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        raise Permanent("InvalidRequestException", "the simulation keeps no results")


@contextmanager
def quiet_services() -> Iterator[None]:
    """The services log every start and throttle, as a Lambda should; a simulated run of thousands
    keeps only their errors. The levels of the services' loggers are restored afterwards."""
    from fairshare.services import lifecycle

    service = lifecycle.logger.name.split(".", 1)[0]
    names = [n for n in list(logging.root.manager.loggerDict) if n == service or n.startswith(service + ".")]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def sim_deps(
    config: Config,
    ledger: Any,
    athena: SimAthena,
    clock: SimClock,
    metrics: SimMetrics,
    wakeups: SimWakeups,
    usage: SimUsage,
    seed: int,
) -> Deps:
    return Deps(
        config=config,
        ledger=ledger,
        athena=athena,
        clock=clock,
        metrics=metrics,
        notifier=_NoNotifier(),
        wakeups=wakeups,
        results=_NoResults(),
        usage=usage,
        rng=random.Random(seed),
        concurrency=1,
    )
