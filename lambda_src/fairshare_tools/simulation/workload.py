"""The arrivals of a scenario, drawn once from its seed so that every policy sees the same workload."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from fairshare.domain.model import PoolName, QueuedQuery

from fairshare_tools.simulation.scenario import (
    BurstArrivals,
    ChoiceDuration,
    Duration,
    FixedDuration,
    PoissonArrivals,
    Scenario,
    TenantSpec,
)


@dataclass(slots=True, frozen=True)
class Job:
    """One submitted query and how long Athena will keep it active once started."""

    query: QueuedQuery
    duration_s: float


def _arrival_times(spec: TenantSpec, rng: random.Random, horizon: float) -> list[float]:
    times: list[float] = []
    for arrivals in spec.arrivals:
        if isinstance(arrivals, PoissonArrivals):
            at = arrivals.start_s
            end = min(arrivals.end_s, horizon)
            while True:
                at += rng.expovariate(arrivals.rate_per_s)
                if at >= end:
                    break
                times.append(at)
        elif isinstance(arrivals, BurstArrivals) and arrivals.at_s < horizon:
            times.extend([arrivals.at_s] * arrivals.count)
    times.sort()
    return times


def _draw_duration(duration: Duration, rng: random.Random) -> float:
    if isinstance(duration, FixedDuration):
        return duration.value
    if isinstance(duration, ChoiceDuration):
        values, weights = zip(*duration.values, strict=True)
        return float(rng.choices(values, weights)[0])
    return rng.lognormvariate(math.log(duration.median), duration.sigma)


def generate_jobs(scenario: Scenario) -> list[Job]:
    """Every tenant's submissions within the run, ordered by submission time (then tenant, then seq).

    Each tenant draws from its own stream, seeded by the scenario seed and the tenant's name, so adding
    a tenant leaves the others' arrivals unchanged.
    """
    jobs: list[Job] = []
    for tenant, spec in scenario.tenants.items():
        rng = random.Random(f"{scenario.seed}:{tenant}")
        levels = sorted(spec.priorities)
        weights = [spec.priorities[level] for level in levels]
        for seq, at in enumerate(_arrival_times(spec, rng, scenario.duration_s), start=1):
            priority = int(rng.choices(levels, weights)[0])
            pool: PoolName = "DDL" if rng.random() < spec.ddl_fraction else "DML"
            query = QueuedQuery(
                query_id=f"{tenant}-{seq:07d}",
                tenant=tenant,
                priority=priority,
                seq=seq,
                submitted_at=at,
                pool=pool,
            )
            jobs.append(Job(query=query, duration_s=_draw_duration(spec.duration_s, rng)))
    jobs.sort(key=lambda job: (job.query.submitted_at, job.query.tenant, job.query.seq))
    return jobs
