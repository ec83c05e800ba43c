"""What a simulation run measures, and how (the definitions the reports and targets rely on).

Time-weighted quantities are integrated exactly between events (the state is piecewise constant).

- *Waiting*: a query of ours is waiting while it is submitted and not yet started in Athena: queued in
  the platform (fairshare, fifo, round_robin) or parked in the DLQ (seed000).
- `utilization` (per pool; the headline is DML): over the time when at least one query of that pool
  is waiting, the integral of our queries active in Athena (QUEUED or RUNNING there) divided by the
  integral of the slots available to the platform, `min(quota - headroom, quota - foreign active)`.
- `utilization_ceiling`: `mean / (mean + event_delay_s)`, with `mean` the mean duration of the pool's
  queries the policy started. A slot freed in Athena stays idle until its completion event reaches an
  event-driven dispatcher, so no such dispatcher can do better.
- *Saturated window*: the longest continuous interval during which some query of ours is waiting. A
  tenant is *backlogged* if it has a query waiting for at least 95% of that window.
- `share` of a tenant: its slot-seconds (queries active in Athena, any pool) within the window divided
  by all tenants' slot-seconds within the window.
- `jain_index`: Jain's index `(sum x)^2 / (n sum x^2)` over the n backlogged tenants, with
  `x_i = slot-seconds_i / weight_i` within the window (null if no tenant is backlogged).
- `wait_p50_s`, `wait_p99_s`: submission to successful start in Athena. Queries still waiting at the
  end count with their wait so far (a lower bound), so a policy cannot look better by never starting.
- `priority_inversions`: starts of a query while another query of the same tenant with a higher
  effective priority (priority plus the tenant's aging boost, so aging is not an inversion) waits.
- `throttles_per_1000_starts`: TooManyRequests answers per 1,000 StartQueryExecution calls.
- `max_active`: the most of our queries ever active in Athena in the pool at once; `limit` is the
  pool's `quota - headroom`.
- `limit_changes` (per pool): the effective limit's changes in slots, `[at_s, slots]`, from `[0, limit]`.
- `utilization_timeline` (only when asked for, `timeline_s`): the DML utilization as above, per
  consecutive bucket of `timeline_s` seconds (null for a bucket in which nothing of ours waited).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fairshare.domain.model import POOLS, PoolName

BACKLOGGED_FRACTION = 0.95


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of unsorted values; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def jain_index(values: Sequence[float]) -> float | None:
    if not values:
        return None
    total = sum(values)
    squares = sum(value * value for value in values)
    if squares == 0:
        return 1.0
    return total * total / (len(values) * squares)


@dataclass(slots=True)
class _Interval:
    start: float
    length: float = 0.0
    slot_seconds: dict[str, float] = field(default_factory=dict)
    backlogged_s: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _PoolTally:
    limit: int
    max_active: int = 0
    active_integral: float = 0.0
    available_integral: float = 0.0
    waiting_s: float = 0.0
    starts: int = 0
    throttles: int = 0
    duration_sum: float = 0.0
    started: int = 0
    min_effective_limit: int | None = None
    limit_changes: list[list[float]] = field(default_factory=list)


class Recorder:
    """Integrates the simulated state between events and keeps per-query outcomes."""

    def __init__(
        self, tenants: Sequence[str], limits: Mapping[PoolName, int], timeline_s: float | None = None
    ) -> None:
        self._tenants = list(tenants)
        self._last = 0.0
        self._timeline_s = timeline_s
        # DML, per timeline bucket: [integral of our active, integral of available slots]
        self._timeline: dict[int, list[float]] = {}
        self.pools: dict[PoolName, _PoolTally] = {pool: _PoolTally(limit=limits[pool]) for pool in POOLS}
        self._current: _Interval | None = None
        self._best: _Interval | None = None
        self.waits: dict[str, list[float]] = {tenant: [] for tenant in tenants}
        self.admitted: dict[str, int] = dict.fromkeys(tenants, 0)
        self.rejected: dict[str, int] = dict.fromkeys(tenants, 0)
        self.slot_seconds_total: dict[str, float] = dict.fromkeys(tenants, 0.0)
        self.priority_inversions = 0
        self.completed = 0
        self.last_completion_s: float | None = None

    # --- integration ----------------------------------------------------------------------------
    def advance(
        self,
        now: float,
        ours: Mapping[PoolName, int],
        available: Mapping[PoolName, int],
        waiting_by_pool: Mapping[PoolName, int],
        running_by_tenant: Mapping[str, int],
        waiting_by_tenant: Mapping[str, int],
    ) -> None:
        dt = now - self._last
        if dt <= 0:
            return
        self._last = now
        for pool in POOLS:
            if waiting_by_pool[pool] > 0:
                tally = self.pools[pool]
                tally.waiting_s += dt
                tally.active_integral += ours[pool] * dt
                tally.available_integral += available[pool] * dt
        if self._timeline_s is not None and waiting_by_pool["DML"] > 0:
            self._add_to_timeline(now - dt, now, ours["DML"], available["DML"])
        for tenant in self._tenants:
            self.slot_seconds_total[tenant] += running_by_tenant[tenant] * dt
        if any(waiting_by_pool[pool] > 0 for pool in POOLS):
            if self._current is None:
                self._current = _Interval(
                    start=now - dt,
                    slot_seconds=dict.fromkeys(self._tenants, 0.0),
                    backlogged_s=dict.fromkeys(self._tenants, 0.0),
                )
            current = self._current
            current.length += dt
            for tenant in self._tenants:
                current.slot_seconds[tenant] += running_by_tenant[tenant] * dt
                if waiting_by_tenant[tenant] > 0:
                    current.backlogged_s[tenant] += dt
        else:
            self._close_interval()

    def _add_to_timeline(self, start: float, end: float, active: int, available: int) -> None:
        assert self._timeline_s is not None
        while start < end:
            bucket = int(start // self._timeline_s)
            upto = min(end, (bucket + 1) * self._timeline_s)
            sums = self._timeline.setdefault(bucket, [0.0, 0.0])
            sums[0] += active * (upto - start)
            sums[1] += available * (upto - start)
            start = upto

    def _close_interval(self) -> None:
        if self._current is not None and (self._best is None or self._current.length > self._best.length):
            self._best = self._current
        self._current = None

    # --- discrete outcomes ----------------------------------------------------------------------
    def on_start_attempt(self, pool: PoolName, throttled: bool) -> None:
        tally = self.pools[pool]
        tally.starts += 1
        if throttled:
            tally.throttles += 1

    def on_started(self, tenant: str, pool: PoolName, wait_s: float, duration_s: float, active: int) -> None:
        tally = self.pools[pool]
        tally.max_active = max(tally.max_active, active)
        tally.duration_sum += duration_s
        tally.started += 1
        self.admitted[tenant] += 1
        self.waits[tenant].append(wait_s)

    def on_effective_limit(self, pool: PoolName, slots: int, at: float) -> None:
        tally = self.pools[pool]
        if not tally.limit_changes or tally.limit_changes[-1][1] != slots:
            tally.limit_changes.append([round(at, 3), slots])
        if tally.min_effective_limit is None or slots < tally.min_effective_limit:
            tally.min_effective_limit = slots

    # --- summary --------------------------------------------------------------------------------
    def summary(
        self,
        *,
        end: float,
        event_delay_s: float,
        weights: Mapping[str, float],
        still_waiting: Mapping[str, Sequence[float]],
        submitted: int,
    ) -> dict[str, Any]:
        self._close_interval()
        window = self._best or _Interval(start=0.0, slot_seconds=dict.fromkeys(self._tenants, 0.0))
        backlogged = [
            tenant
            for tenant in self._tenants
            if window.length > 0
            and window.backlogged_s.get(tenant, 0.0) >= BACKLOGGED_FRACTION * window.length
        ]
        window_total = sum(window.slot_seconds.values())
        pools: dict[str, Any] = {}
        for pool, tally in self.pools.items():
            mean = tally.duration_sum / tally.started if tally.started else 0.0
            pools[pool] = {
                "limit": tally.limit,
                "max_active": tally.max_active,
                "utilization": _ratio(tally.active_integral, tally.available_integral),
                "utilization_ceiling": _ratio(mean, mean + event_delay_s),
                "waiting_s": round(tally.waiting_s, 3),
                "starts": tally.starts,
                "throttles": tally.throttles,
                "min_effective_limit": tally.min_effective_limit,
                "limit_changes": tally.limit_changes,
            }
        starts = sum(tally.starts for tally in self.pools.values())
        throttles = sum(tally.throttles for tally in self.pools.values())
        tenants: dict[str, Any] = {}
        for tenant in self._tenants:
            waits = self.waits[tenant] + [end - at for at in still_waiting.get(tenant, ())]
            tenants[tenant] = {
                "weight": weights[tenant],
                "admitted": self.admitted[tenant],
                "rejected": self.rejected[tenant],
                "share": _ratio(window.slot_seconds.get(tenant, 0.0), window_total),
                "backlogged": tenant in backlogged,
                "wait_p50_s": round(percentile(waits, 50), 3),
                "wait_p99_s": round(percentile(waits, 99), 3),
                "slot_seconds": round(self.slot_seconds_total[tenant], 1),
            }
        jain = jain_index([window.slot_seconds[tenant] / weights[tenant] for tenant in backlogged])
        dml = pools["DML"]
        timeline: dict[str, Any] = {}
        if self._timeline_s is not None:
            buckets = math.ceil(end / self._timeline_s)
            values = []
            for bucket in range(buckets):
                sums = self._timeline.get(bucket)
                values.append(None if sums is None or sums[1] <= 0 else _ratio(sums[0], sums[1]))
            timeline = {"utilization_timeline": {"bucket_s": self._timeline_s, "values": values}}
        return {
            "limit": dml["limit"],
            "max_active": dml["max_active"],
            "utilization": dml["utilization"],
            "utilization_ceiling": dml["utilization_ceiling"],
            "jain_index": None if jain is None else round(jain, 6),
            "throttles_per_1000_starts": round(1000.0 * throttles / starts, 3) if starts else 0.0,
            "priority_inversions": self.priority_inversions,
            "completed": self.completed,
            "last_completion_s": None if self.last_completion_s is None else round(self.last_completion_s, 3),
            "submitted": submitted,
            "starts": starts,
            "throttles": throttles,
            "saturated_window_s": [round(window.start, 3), round(window.start + window.length, 3)],
            "pools": pools,
            "tenants": tenants,
            **timeline,
        }


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 6) if denominator > 0 else 0.0
