"""A discrete-event simulation of Athena's active-query quota and of the dispatchers that feed it.

Athena: per pool (DML, DDL), active = our queries + foreign queries (QUEUED + RUNNING). A start when
the pool's total active is at its quota is answered with TooManyRequests. Foreign load is a demand
(other users of the account) that takes free quota slots as soon as they free up, before ours, since
it does not go through the platform; when its demand falls, its queries end. Athena's usage metric is
sampled every `usage_period_s` (the pool's total active, ours and foreign), each sample visible
`usage_delay_s` later, as CloudWatch serves it.

Every policy but `seed000` runs the platform's own code (`_Platform`, `fairshare_tools.simulation.platform`):
each arrival is the api's submit, each wake-up (`submit_delay_s` after it was sent) the dispatcher's
round, each completion event (`event_delay_s` after Athena finished the query) the completion handler's
`on_state_change` and its refill round, and every `tick_s` the dispatcher's tick (usage, round,
reconcile), over the in-memory ledger. The policies differ only in the order a round admits in:
- `fairshare`: `fairshare.domain.plan_admissions` with the default share policy (the platform itself);
- `weighted_fair`: the same with Trino's share policy;
- `fifo`: one FIFO across tenants by submission time (`baselines.fifo_planner`; weights ignored);
- `round_robin`: one query per tenant in turn (`baselines.RoundRobinPlanner`; weights ignored).
So every figure of theirs is a prediction of the dispatcher's own behaviour; only the order differs.

`seed000` is the AWS sample's design: each query is started on arrival with no admission control; a
throttled one goes to a DLQ, and the whole DLQ is re-driven (started again, in DLQ order) every
`tick_s`; a query throttled again goes back to the DLQ. Athena's API rate limit is not modelled.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fairshare.domain import (
    Admission,
    QueuedQuery,
    Snapshot,
    TenantQueue,
    effective_priority,
    plan_admissions,
)
from fairshare.domain.errors import QueueFull
from fairshare.domain.model import POOLS, PoolName, SharePolicy
from fairshare.services.completion import on_state_change
from fairshare.services.dispatch import Dispatcher, refill
from fairshare.services.reconcile import reconcile
from fairshare.services.submission import Submission, query_id_for, submit

from fairshare_tools.simulation.baselines import RoundRobinPlanner, fifo_planner
from fairshare_tools.simulation.metrics import Recorder
from fairshare_tools.simulation.platform import (
    DATABASE,
    SimAthena,
    SimClock,
    SimMetrics,
    SimUsage,
    SimWakeups,
    config_for,
    quiet_services,
    sim_deps,
)
from fairshare_tools.simulation.scenario import Scenario
from fairshare_tools.simulation.workload import Job, generate_jobs
from fairshare_tools.testing.memory_ledger import MemoryLedger

PolicyName = Literal["fairshare", "weighted_fair", "fifo", "round_robin", "seed000"]
POLICIES: tuple[PolicyName, ...] = ("fairshare", "weighted_fair", "fifo", "round_robin", "seed000")
Planner = Callable[[Snapshot], list[Admission]]
# Every policy but seed000 runs the dispatcher's services (`fairshare_tools.simulation.platform`), with
# the share policy and the planner (the order of admissions) it names.
_PLANNERS: dict[PolicyName, Callable[[], tuple[SharePolicy, Planner]]] = {
    "fairshare": lambda: ("fair_share", plan_admissions),
    "weighted_fair": lambda: ("weighted_fair", plan_admissions),
    "fifo": lambda: ("fair_share", fifo_planner),
    "round_robin": lambda: ("fair_share", RoundRobinPlanner()),
}

# Events of one instant are handled in this order; a round comes last so that it sees them all.
_FOREIGN, _ATHENA_DONE, _ARRIVAL, _COMPLETION_EVENT, _SAMPLE, _TICK, _ROUND, _OBSERVE = range(8)


class AthenaQuota:
    """Athena's per-pool active-query quota, shared with foreign load."""

    def __init__(self, quotas: Mapping[PoolName, int]) -> None:
        self.quota = dict(quotas)
        self.ours: dict[PoolName, int] = dict.fromkeys(POOLS, 0)
        self.foreign: dict[PoolName, int] = dict.fromkeys(POOLS, 0)
        self.foreign_demand: dict[PoolName, int] = dict.fromkeys(POOLS, 0)

    def total(self, pool: PoolName) -> int:
        return self.ours[pool] + self.foreign[pool]

    def try_start(self, pool: PoolName) -> bool:
        if self.total(pool) >= self.quota[pool]:
            return False
        self.ours[pool] += 1
        return True

    def finish(self, pool: PoolName) -> None:
        self.ours[pool] -= 1
        self._foreign_fill(pool)

    def set_foreign_demand(self, pool: PoolName, demand: int) -> None:
        self.foreign_demand[pool] = demand
        self.foreign[pool] = min(self.foreign[pool], demand)
        self._foreign_fill(pool)

    def _foreign_fill(self, pool: PoolName) -> None:
        free = self.quota[pool] - self.total(pool)
        want = self.foreign_demand[pool] - self.foreign[pool]
        if free > 0 and want > 0:
            self.foreign[pool] += min(free, want)


@dataclass(slots=True, frozen=True)
class TenantView:
    name: str
    weight: float
    queued: int
    running: int
    admitted: int
    slot_seconds: float


@dataclass(slots=True, frozen=True)
class SimulationView:
    """The state of a run at one instant, for a live display."""

    policy: str
    now: float
    duration_s: float
    tenants: tuple[TenantView, ...]
    limit: Mapping[PoolName, int]
    effective_limit: Mapping[PoolName, int]
    athena_ours: Mapping[PoolName, int]
    athena_foreign: Mapping[PoolName, int]
    quota: Mapping[PoolName, int]
    starts: int
    throttles: int


Observer = Callable[[SimulationView], None]


class Simulation:
    """One policy over one scenario's jobs. `run()` returns the policy's metrics (see `metrics`)."""

    def __init__(
        self,
        scenario: Scenario,
        policy: PolicyName,
        jobs: Sequence[Job] | None = None,
        observer: Observer | None = None,
        observe_every_s: float = 1.0,
        timeline_s: float | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
        self.scenario = scenario
        self.policy: PolicyName = policy
        self.jobs = list(generate_jobs(scenario) if jobs is None else jobs)
        self._observer = observer
        self._observe_every_s = observe_every_s
        self._policies = [spec.policy(name) for name, spec in scenario.tenants.items()]
        self._policy_of = {policy.name: policy for policy in self._policies}
        self._tenants = [policy.name for policy in self._policies]

        self.athena = AthenaQuota({pool: scenario.pools[pool].quota for pool in POOLS})
        # Queries submitted and not yet started, per tenant, in admission order (I-5).
        self.waiting: dict[str, TenantQueue] = {name: TenantQueue() for name in self._tenants}
        self._waiting_by_pool: dict[PoolName, int] = dict.fromkeys(POOLS, 0)
        self._athena_by_tenant: dict[str, int] = dict.fromkeys(self._tenants, 0)
        self._dlq: deque[Job] = deque()

        self.recorder = Recorder(self._tenants, {pool: scenario.limit(pool) for pool in POOLS}, timeline_s)
        self.platform: _Platform | None = None
        if policy != "seed000":
            self.platform = _Platform(self, *_PLANNERS[policy]())
        for pool in POOLS:
            self.recorder.on_effective_limit(pool, scenario.limit(pool), 0.0)
        self._events: list[tuple[float, int, int, Any]] = []
        self._sequence = itertools.count()
        self._pending_rounds: list[float] = []
        self.now = 0.0

    # --- event plumbing -------------------------------------------------------------------------
    def _schedule(self, at: float, kind: int, payload: Any = None) -> None:
        heapq.heappush(self._events, (at, kind, next(self._sequence), payload))

    def _schedule_round(self, at: float, within: float = 0.0, kind: str = "round") -> None:
        """Schedule a round at `at` unless one is already due within [at - within, at]."""
        while self._pending_rounds and self._pending_rounds[0] < self.now:
            heapq.heappop(self._pending_rounds)
        if any(at - within <= pending <= at for pending in self._pending_rounds):
            return
        heapq.heappush(self._pending_rounds, at)
        self._schedule(at, _ROUND, kind)

    def _advance(self, now: float) -> None:
        available = {
            pool: min(self.scenario.limit(pool), self.athena.quota[pool] - self.athena.foreign[pool])
            for pool in POOLS
        }
        self.recorder.advance(
            now,
            ours=self.athena.ours,
            available=available,
            waiting_by_pool=self._waiting_by_pool,
            running_by_tenant=self._athena_by_tenant,
            waiting_by_tenant={name: len(queue) for name, queue in self.waiting.items()},
        )
        self.now = now

    # --- the run --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        with quiet_services():
            return self._run()

    def _run(self) -> dict[str, Any]:
        end = self.scenario.duration_s
        for job in self.jobs:
            self._schedule(job.query.submitted_at, _ARRIVAL, job)
        for load in self.scenario.foreign_load:
            self._schedule(load.start_s, _FOREIGN, load.pool)
            self._schedule(load.end_s, _FOREIGN, load.pool)
        tick = self.scenario.tick_s
        at = tick
        while at < end:
            self._schedule(at, _TICK)
            at += tick
        period = self.scenario.usage_period_s
        if period is not None and self.platform is not None:
            at = 0.0
            while at < end:
                self._schedule(at, _SAMPLE)
                at += period
        if self._observer is not None:
            at = 0.0
            while at <= end:
                self._schedule(at, _OBSERVE)
                at += self._observe_every_s

        while self._events and self._events[0][0] <= end:
            at, kind, _, payload = heapq.heappop(self._events)
            self._advance(at)
            if kind == _FOREIGN:
                self.athena.set_foreign_demand(payload, self.scenario.foreign_demand(payload, at))
            elif kind == _ATHENA_DONE:
                self._athena_done(payload)
            elif kind == _ARRIVAL:
                self._arrival(payload)
            elif kind == _COMPLETION_EVENT:
                self._completion_event(payload)
            elif kind == _SAMPLE:
                assert self.platform is not None
                for pool in POOLS:
                    self.platform.usage.sample(pool, at, self.athena.total(pool))
            elif kind == _TICK:
                self._tick()
            elif kind == _ROUND:
                assert self.platform is not None
                self.platform.round(payload)
            elif kind == _OBSERVE and self._observer is not None:
                self._observer(self.view())
        self._advance(end)

        still_waiting = {
            name: [query.submitted_at for query in queue.ordered(end)] for name, queue in self.waiting.items()
        }
        return self.recorder.summary(
            end=end,
            event_delay_s=self.scenario.event_delay_s,
            weights={policy.name: policy.weight for policy in self._policies},
            still_waiting=still_waiting,
            submitted=len(self.jobs),
        )

    # --- Athena ---------------------------------------------------------------------------------
    def _start_in_athena(self, job: Job) -> bool:
        query = job.query
        started = self.athena.try_start(query.pool)
        self.recorder.on_start_attempt(query.pool, throttled=not started)
        if not started:
            return False
        policy = self._policy_of[query.tenant]
        queue = self.waiting[query.tenant]
        if queue:
            head = queue.head(self.now, policy.aging_seconds, policy.max_aging_boost)
            if head is not None and head is not query:
                mine = effective_priority(query, self.now, policy.aging_seconds, policy.max_aging_boost)
                best = effective_priority(head, self.now, policy.aging_seconds, policy.max_aging_boost)
                if best > mine:
                    self.recorder.priority_inversions += 1
        self._athena_by_tenant[query.tenant] += 1
        self.recorder.on_started(
            query.tenant,
            query.pool,
            wait_s=self.now - query.submitted_at,
            duration_s=job.duration_s,
            active=self.athena.ours[query.pool],
        )
        self._schedule(self.now + job.duration_s, _ATHENA_DONE, job)
        return True

    def _athena_done(self, job: Job) -> None:
        self.athena.finish(job.query.pool)
        self._athena_by_tenant[job.query.tenant] -= 1
        self.recorder.completed += 1
        self.recorder.last_completion_s = self.now
        if self.platform is not None:
            self.platform.athena_done(job)
            self._schedule(self.now + self.scenario.event_delay_s, _COMPLETION_EVENT, job)

    def _add_waiting(self, query: QueuedQuery) -> None:
        self.waiting[query.tenant].push(query)
        self._waiting_by_pool[query.pool] += 1

    def _remove_waiting(self, query: QueuedQuery) -> None:
        self.waiting[query.tenant].remove(query)
        self._waiting_by_pool[query.pool] -= 1

    # --- submissions ----------------------------------------------------------------------------
    def _arrival(self, job: Job) -> None:
        if self.platform is not None:
            self.platform.submit(job)
            return
        # seed000: start on arrival, no admission control; a throttled query parks in the DLQ.
        if not self._start_in_athena(job):
            self._add_waiting(job.query)
            self._dlq.append(job)

    def _tick(self) -> None:
        if self.platform is not None:
            self.platform.tick()
            return
        # seed000: re-drive the whole DLQ once; what is throttled again goes back to it.
        for _ in range(len(self._dlq)):
            job = self._dlq.popleft()
            if self._start_in_athena(job):
                self._remove_waiting(job.query)
            else:
                self._dlq.append(job)

    def _completion_event(self, job: Job) -> None:
        assert self.platform is not None
        self.platform.completion_event(job)

    # --- live view ------------------------------------------------------------------------------
    def view(self) -> SimulationView:
        tenants = tuple(
            TenantView(
                name=policy.name,
                weight=policy.weight,
                queued=len(self.waiting[policy.name]),
                running=self._athena_by_tenant[policy.name],
                admitted=self.recorder.admitted[policy.name],
                slot_seconds=self.recorder.slot_seconds_total[policy.name],
            )
            for policy in self._policies
        )
        tallies = self.recorder.pools
        return SimulationView(
            policy=self.policy,
            now=self.now,
            duration_s=self.scenario.duration_s,
            tenants=tenants,
            limit={pool: self.scenario.limit(pool) for pool in POOLS},
            effective_limit=(
                dict(self.platform.limits)
                if self.platform is not None
                else {pool: self.scenario.limit(pool) for pool in POOLS}
            ),
            athena_ours=dict(self.athena.ours),
            athena_foreign=dict(self.athena.foreign),
            quota=dict(self.athena.quota),
            starts=sum(tally.starts for tally in tallies.values()),
            throttles=sum(tally.throttles for tally in tallies.values()),
        )


class _Platform:
    """A platform policy's run: the Lambdas' services over the in-memory ledger, fed by the simulation.

    Each hook is what AWS would deliver to a Lambda: an arrival is the api's submit; a wake-up (SQS,
    `submit_delay_s` later) the dispatcher's round; Athena's completion event (`event_delay_s` after
    the query ended) the completion handler's `on_state_change`, with its refill round once per
    instant; the tick the dispatcher's `observe_usage`, round and `reconcile`.
    """

    def __init__(
        self, simulation: Simulation, share: SharePolicy, planner: Planner = plan_admissions
    ) -> None:
        self.sim = simulation
        scenario = simulation.scenario
        self.config = config_for(
            simulation._policies,
            scenario.pools,
            share,
            scenario.start_rate_per_s,
            scenario.start_burst,
            scenario.share_half_life_s,
        )
        self.limits: dict[PoolName, int] = {pool: scenario.limit(pool) for pool in POOLS}
        self.athena = SimAthena(self._try_start)
        self.usage = SimUsage(scenario.usage_delay_s)
        self.metrics = SimMetrics(self._on_limit)
        self.wakeups = SimWakeups(self._on_wake)
        self.deps = sim_deps(
            self.config,
            MemoryLedger(self.config.query_ttl_days, self.config.decay),
            self.athena,
            SimClock(lambda: simulation.now),
            self.metrics,
            self.wakeups,
            self.usage,
            scenario.seed,
        )
        self.deps.planner = planner
        self._job_of: dict[str, Job] = {}
        self._ids: dict[str, str] = {}

    # --- what the simulation delivers ------------------------------------------------------------
    def submit(self, job: Job) -> None:
        query = job.query
        sql = "CREATE TABLE simulated (x int)" if query.pool == "DDL" else "SELECT 1"
        submission = Submission(
            sql=sql, database=DATABASE, priority=query.priority, client_token=f"{query.query_id:0>32}"
        )
        query_id = self._platform_id(job)
        self._job_of[query_id] = job  # before the submit: its wake-up may start it at once
        try:
            submit(self.deps, query.tenant, submission)
        except QueueFull:
            del self._job_of[query_id]
            self.sim.recorder.rejected[query.tenant] += 1
            return
        self.sim._add_waiting(query)

    def athena_done(self, job: Job) -> None:
        self.athena.finished(self.athena.execution_of(self._platform_id(job)))

    def completion_event(self, job: Job) -> None:
        execution_id = self.athena.execution_of(self._platform_id(job))
        on_state_change(self.deps, execution_id, "SUCCEEDED", self.athena.workgroup_of(execution_id))
        self.sim._schedule_round(self.sim.now, kind="refill")  # the handler refills once per batch

    def round(self, kind: str) -> None:
        if kind == "refill":
            refill(self.deps)
        else:
            Dispatcher(self.deps).run_round()

    def tick(self) -> None:
        dispatcher = Dispatcher(self.deps)
        dispatcher.observe_usage()
        dispatcher.run_round()
        reconcile(self.deps, dispatcher)

    # --- what the services ask of AWS ------------------------------------------------------------
    def _try_start(self, query_id: str) -> bool:
        job = self._job_of[query_id]
        if not self.sim._start_in_athena(job):
            return False
        self.sim._remove_waiting(job.query)
        return True

    def _on_wake(self) -> None:
        delay = self.sim.scenario.submit_delay_s
        self.sim._schedule_round(self.sim.now + delay, within=delay)

    def _on_limit(self, pool: PoolName, slots: int) -> None:
        if self.limits.get(pool) != slots:
            self.limits[pool] = slots
            self.sim.recorder.on_effective_limit(pool, slots, self.sim.now)

    def _platform_id(self, job: Job) -> str:
        """The platform's query id of a job (from its client token; computed once)."""
        known = self._ids.get(job.query.query_id)
        if known is None:
            known = self._ids[job.query.query_id] = query_id_for(
                job.query.tenant, f"{job.query.query_id:0>32}"
            )
        return known


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def simulate(
    scenario: Scenario,
    policies: Sequence[PolicyName] = POLICIES,
    observer: Observer | None = None,
    observe_every_s: float = 1.0,
    observed_policy: PolicyName = "fairshare",
    timeline_s: float | None = None,
) -> dict[str, Any]:
    """Run each policy on the same arrivals; returns `{"scenario": name, "policies": {name: metrics}}`."""
    jobs = generate_jobs(scenario)
    results: dict[str, Any] = {}
    for policy in policies:
        simulation = Simulation(
            scenario,
            policy,
            jobs=jobs,
            observer=observer if policy == observed_policy else None,
            observe_every_s=observe_every_s,
            timeline_s=timeline_s,
        )
        results[policy] = simulation.run()
    return {"scenario": scenario.name, "policies": results}
