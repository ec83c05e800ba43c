"""A discrete-event simulation of Athena's active-query quota and of the dispatchers that feed it.

Athena: per pool (DML, DDL), active = our queries + foreign queries (QUEUED + RUNNING). A start when
the pool's total active is at its quota is answered with TooManyRequests. Foreign load is a demand
(other users of the account) that takes free quota slots as soon as they free up, before ours, since
it does not go through the platform; when its demand falls, its queries end. Athena's usage metric is
sampled every `usage_period_s` (the pool's total active, ours and foreign), each sample visible
`usage_delay_s` later, as CloudWatch serves it.

The platform's policies, `fairshare` and `weighted_fair` (its two share policies), run the platform's
own code (`_Platform`, `fairshare_tools.simulation.platform`): each arrival is the api's submit, each
wake-up (`submit_delay_s` after it was sent) the dispatcher's round, each completion event
(`event_delay_s` after Athena finished the query) the completion handler's `on_state_change` and its
refill round, and every `tick_s` the dispatcher's tick (usage, round, reconcile), over the in-memory
ledger. What the simulator reports of them is a prediction of the dispatcher's own behaviour.

The baselines model other designs:
- `fifo`: one global FIFO by submission time (priorities and weights ignored; hard caps kept);
- `round_robin`: one query per tenant in turn, each tenant in its `TenantQueue` order;
both on a simplified dispatcher round (a ledger view, AIMD per pool, the start `TokenBucket`; a
throttled pick stays at its head and the round starts nothing more in that pool), and
- `seed000`, the AWS sample's design: each query is started on arrival with no admission control; a
throttled one goes to a DLQ, and the whole DLQ is re-driven (started again, in DLQ order) every
`tick_s`; a query throttled again goes back to the DLQ. Athena's API rate limit is not modelled.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fairshare.domain import (
    Admission,
    EffectiveLimit,
    LimitPolicy,
    PoolState,
    QueuedQuery,
    Room,
    TenantPolicy,
    TenantQueue,
    TokenBucket,
    effective_priority,
)
from fairshare.domain.errors import QueueFull
from fairshare.domain.model import POOLS, PoolName, SharePolicy
from fairshare.services.completion import on_state_change
from fairshare.services.dispatch import Dispatcher, refill
from fairshare.services.reconcile import reconcile
from fairshare.services.submission import Submission, query_id_for, submit

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
# The platform's own policies: the dispatcher's services run them (`fairshare_tools.simulation.platform`).
PLATFORM_POLICIES: tuple[PolicyName, ...] = ("fairshare", "weighted_fair")

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


class Ordering(Protocol):
    """How a dispatcher policy orders the waiting queries in one round."""

    def enqueue(self, query: QueuedQuery) -> None: ...

    def plan(
        self, now: float, pools: Mapping[PoolName, PoolState], running: Mapping[str, int], tokens: int
    ) -> list[Admission]: ...

    def started(self, query: QueuedQuery) -> None: ...


class FifoOrdering:
    """One global FIFO by submission time; a pick whose pool is full does not block the other pool."""

    def __init__(self, policies: Sequence[TenantPolicy]) -> None:
        self._caps = {policy.name: policy.max_concurrency for policy in policies}
        self._rank = {policy.name: index for index, policy in enumerate(policies)}
        self._fifos: dict[tuple[str, PoolName], deque[QueuedQuery]] = {
            (policy.name, pool): deque() for policy in policies for pool in POOLS
        }

    def enqueue(self, query: QueuedQuery) -> None:
        self._fifos[(query.tenant, query.pool)].append(query)

    def plan(
        self, now: float, pools: Mapping[PoolName, PoolState], running: Mapping[str, int], tokens: int
    ) -> list[Admission]:
        free = {pool: state.free for pool, state in pools.items()}
        counts = dict(running)
        heap: list[tuple[float, int, int, str, PoolName, int]] = []
        for (tenant, pool), fifo in self._fifos.items():
            if fifo and free[pool] > 0 and counts[tenant] < self._caps[tenant]:
                head = fifo[0]
                heap.append((head.submitted_at, self._rank[tenant], head.seq, tenant, pool, 0))
        heapq.heapify(heap)
        picks: list[Admission] = []
        while heap and tokens > 0:
            _, rank, _, tenant, pool, index = heapq.heappop(heap)
            if free[pool] <= 0 or counts[tenant] >= self._caps[tenant]:
                continue
            fifo = self._fifos[(tenant, pool)]
            picks.append(Admission(fifo[index], pool))
            free[pool] -= 1
            counts[tenant] += 1
            tokens -= 1
            if index + 1 < len(fifo):
                following = fifo[index + 1]
                heapq.heappush(heap, (following.submitted_at, rank, following.seq, tenant, pool, index + 1))
        return picks

    def started(self, query: QueuedQuery) -> None:
        fifo = self._fifos[(query.tenant, query.pool)]
        if fifo[0] is query:
            fifo.popleft()
        else:
            fifo.remove(query)


class RoundRobinOrdering:
    """Tenants take turns, one query per turn, each in its own queue order (I-5); weights ignored."""

    def __init__(self, policies: Sequence[TenantPolicy], queues: Mapping[str, TenantQueue]) -> None:
        self._policies = list(policies)
        self._queues = queues
        self._next = 0

    def enqueue(self, query: QueuedQuery) -> None:
        """The shared per-tenant queues already hold it."""

    def plan(
        self, now: float, pools: Mapping[PoolName, PoolState], running: Mapping[str, int], tokens: int
    ) -> list[Admission]:
        free = {pool: state.free for pool, state in pools.items()}
        counts = dict(running)
        cursors: dict[str, Iterator[QueuedQuery]] = {}
        blocked: set[str] = set()
        picks: list[Admission] = []
        count = len(self._policies)
        idle_turns = 0
        while tokens > 0 and idle_turns < count and any(slots > 0 for slots in free.values()):
            policy = self._policies[self._next]
            self._next = (self._next + 1) % count
            name = policy.name
            if name in blocked or counts[name] >= policy.max_concurrency:
                blocked.add(name)
                idle_turns += 1
                continue
            if name not in cursors:
                cursors[name] = self._queues[name].ordered(now, policy.aging_seconds, policy.max_aging_boost)
            head = next(cursors[name], None)
            if head is None or free[head.pool] <= 0:
                blocked.add(name)
                idle_turns += 1
                continue
            picks.append(Admission(head, head.pool))
            free[head.pool] -= 1
            counts[name] += 1
            tokens -= 1
            idle_turns = 0
        return picks

    def started(self, query: QueuedQuery) -> None:
        """The simulation removes it from the shared queues."""


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
        self._limit_policies: dict[PoolName, LimitPolicy] = {
            pool: scenario.pools[pool].limit_policy() for pool in POOLS
        }
        self.limits = {pool: EffectiveLimit.initial(self._limit_policies[pool], 0.0) for pool in POOLS}
        # Athena's usage samples (taken at, total active) per pool, and the room the tick made of them.
        self._samples: dict[PoolName, deque[tuple[float, int]]] = {pool: deque() for pool in POOLS}
        self.rooms: dict[PoolName, Room | None] = dict.fromkeys(POOLS)
        self.bucket = TokenBucket.full(scenario.start_rate_per_s, scenario.start_burst, 0.0)
        self.ledger_active: dict[PoolName, int] = dict.fromkeys(POOLS, 0)
        self.ledger_running: dict[str, int] = dict.fromkeys(self._tenants, 0)

        # Queries submitted and not yet started, per tenant, in admission order (I-5).
        self.waiting: dict[str, TenantQueue] = {name: TenantQueue() for name in self._tenants}
        self._waiting_by_pool: dict[PoolName, int] = dict.fromkeys(POOLS, 0)
        self._athena_by_tenant: dict[str, int] = dict.fromkeys(self._tenants, 0)
        self._dlq: deque[Job] = deque()
        self._job_of: dict[str, Job] = {}

        self.ordering: Ordering | None = None
        self.platform: _Platform | None = None
        if policy in PLATFORM_POLICIES:
            self.platform = _Platform(self, "fair_share" if policy == "fairshare" else "weighted_fair")
        elif policy == "fifo":
            self.ordering = FifoOrdering(self._policies)
        elif policy == "round_robin":
            self.ordering = RoundRobinOrdering(self._policies, self.waiting)

        self.recorder = Recorder(self._tenants, {pool: scenario.limit(pool) for pool in POOLS}, timeline_s)
        for pool in POOLS:
            self.recorder.on_effective_limit(pool, self.limits[pool].slots, 0.0)
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
        if period is not None and (self.ordering is not None or self.platform is not None):
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
                for pool in POOLS:
                    if self.platform is not None:
                        self.platform.usage.sample(pool, at, self.athena.total(pool))
                    else:
                        self._samples[pool].append((at, self.athena.total(pool)))
            elif kind == _TICK:
                self._tick()
            elif kind == _ROUND:
                if self.platform is not None:
                    self.platform.round(payload)
                else:
                    self._round()
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
        if self.ordering is not None or self.platform is not None:
            self._schedule(self.now + self.scenario.event_delay_s, _COMPLETION_EVENT, job)

    def _add_waiting(self, query: QueuedQuery) -> None:
        self.waiting[query.tenant].push(query)
        self._waiting_by_pool[query.pool] += 1

    def _remove_waiting(self, query: QueuedQuery) -> None:
        self.waiting[query.tenant].remove(query)
        self._waiting_by_pool[query.pool] -= 1

    # --- submissions ----------------------------------------------------------------------------
    def _arrival(self, job: Job) -> None:
        query = job.query
        if self.platform is not None:
            self.platform.submit(job)
            return
        if self.ordering is None:
            # seed000: start on arrival, no admission control; a throttled query parks in the DLQ.
            if not self._start_in_athena(job):
                self._add_waiting(query)
                self._dlq.append(job)
            return
        if len(self.waiting[query.tenant]) >= self._policy_of[query.tenant].max_queued:
            self.recorder.rejected[query.tenant] += 1
            return
        self._job_of[query.query_id] = job
        self._add_waiting(query)
        self.ordering.enqueue(query)
        self._schedule_round(self.now + self.scenario.submit_delay_s, within=self.scenario.submit_delay_s)

    def _tick(self) -> None:
        if self.platform is not None:
            self.platform.tick()
            return
        if self.ordering is not None:
            self._read_usage()
            self._schedule_round(self.now)
            return
        # seed000: re-drive the whole DLQ once; what is throttled again goes back to it.
        for _ in range(len(self._dlq)):
            job = self._dlq.popleft()
            if self._start_in_athena(job):
                self._remove_waiting(job.query)
            else:
                self._dlq.append(job)

    # --- the dispatcher -------------------------------------------------------------------------
    def _read_usage(self) -> None:
        """The tick's read of the latest usage sample CloudWatch has, into each pool's room."""
        visible_by = self.now - self.scenario.usage_delay_s
        for pool in POOLS:
            samples = self._samples[pool]
            latest = None
            while samples and samples[0][0] <= visible_by:
                latest = samples.popleft()
            if latest is not None:
                config = self.scenario.pools[pool]
                at, total = latest
                self.rooms[pool] = Room.of(
                    config.quota,
                    self.scenario.limit(pool),
                    total,
                    self.ledger_active[pool],
                    self.limits[pool].slots,
                    at,
                )

    def _completion_event(self, job: Job) -> None:
        if self.platform is not None:
            self.platform.completion_event(job)
            return
        query = job.query
        self.ledger_active[query.pool] -= 1
        self.ledger_running[query.tenant] -= 1
        self._schedule_round(self.now)

    def _round(self) -> None:
        assert self.ordering is not None
        now = self.now
        for pool in POOLS:
            recovered = self.limits[pool].recover(self._limit_policies[pool], now, self.rooms[pool])
            if recovered.slots != self.limits[pool].slots:
                self.recorder.on_effective_limit(pool, recovered.slots, now)
            self.limits[pool] = recovered
        tokens = self.bucket.available(now)
        pools = {
            pool: PoolState(
                name=pool, active=self.ledger_active[pool], effective_limit=self.limits[pool].slots
            )
            for pool in POOLS
        }
        if not any(self._waiting_by_pool[pool] and pools[pool].free for pool in POOLS):
            return
        picks = self.ordering.plan(now, pools, self.ledger_running, tokens) if tokens > 0 else []
        blocked_pools: set[PoolName] = set()
        for admission in picks:
            query = admission.query
            if query.pool in blocked_pools:  # as the dispatcher's round: the full pool only
                continue
            self.bucket = self.bucket.take(1, now)
            job = self._job_of[query.query_id]
            if self._start_in_athena(job):
                self._remove_waiting(query)
                self.ordering.started(query)
                del self._job_of[query.query_id]
                self.ledger_active[query.pool] += 1
                self.ledger_running[query.tenant] += 1
            else:
                # I-7: back to the head of its queue, no attempt counted; the limit steps down.
                policy = self._limit_policies[query.pool]
                self.limits[query.pool] = self.limits[query.pool].on_throttle(
                    policy, now, active=self.ledger_active[query.pool]
                )
                self.recorder.on_effective_limit(query.pool, self.limits[query.pool].slots, now)
                blocked_pools.add(query.pool)
        if self.bucket.available(now) < 1 and any(
            self._waiting_by_pool[pool] and self.ledger_active[pool] < self.limits[pool].slots
            for pool in POOLS
        ):
            self._schedule_round(now + self.bucket.seconds_until(1, now))

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
                else {pool: self.limits[pool].slots for pool in POOLS}
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

    def __init__(self, simulation: Simulation, share: SharePolicy) -> None:
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
