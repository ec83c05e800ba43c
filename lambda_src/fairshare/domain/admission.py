"""Admission across tenants (I-2, I-5, I-6): fair share by service received, over per-tenant queues.

Among tenants with work queued, below their hard cap and within budget, the next slot goes to the
tenant furthest behind its weighted share of *service*: least `charge / weight`, where the charge is
- the slot-seconds it has received (decayed, `fairshare.domain.service`),
- plus what its running queries hold: their elapsed slot-seconds, or one mean run time each if more,
- plus one mean run time (its own decayed mean) per query admitted in this round.
So a round spreads its slots by weight, and over time the rounding of whole slots evens out: a tenant
that held more than its share of slots for a while is passed over until the others catch up.

A tenant that was not backlogged just before its oldest waiting query came (it was given no slot
since: idle, or running what it had with nothing queued) banks no credit: it rejoins at the virtual
time, the least charge per weight among the competing tenants that kept work queued (the start tag
of start-time fair queueing; with none, the most service per weight any tenant received, so that
after a quiet spell everyone starts level). Its claim writes the lift into its history
(`Admission.lift_s`, kept apart from its queries' run times). Among equal charges a rejoining tenant
goes first: the others at that charge have just been served.

`weighted_fair` is Trino's rule: least `running / weight`, whole running counts only. Whenever
`quota · w / Σw` is not whole it favours the small weights (4:2:1:1 on 20 slots: 0.45 / 0.25 / 0.15 /
0.15 of the slot-seconds instead of 0.5 / 0.25 / 0.125 / 0.125).

Other ties go to the oldest head of line. A tenant only ever offers its own head (I-5): if the head's pool
is full, nothing behind it passes. A call first reads every eligible tenant's head, O(tenants) (about
1 ms for 1,000 tenants, see scripts/bench_admission.py); then each decision costs O(log tenants).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from fairshare.domain.model import Admission, PoolName, QueuedQuery, Snapshot, TenantState
from fairshare.domain.service import DEFAULT_RUN_S

# (charge/weight or running/weight, 0 for a rejoining tenant else 1, head submitted_at, tenant name,
# tenant index); the index breaks nothing but keeps the tuple comparable without comparing queries.
_HeapEntry = tuple[float, int, float, str, int]


def _candidates(tenant: TenantState, now: float) -> Iterator[QueuedQuery]:
    policy = tenant.policy
    return tenant.queue.ordered(now, policy.aging_seconds, policy.max_aging_boost)


def virtual_time(least: float | None, everyone: Sequence[TenantState]) -> float:
    """The charge per weight at which a tenant rejoins: `least`, the least of the competing tenants
    that kept work queued; with none, the most service per weight any tenant received."""
    if least is not None:
        return least
    return max((t.service.received_s / t.policy.weight for t in everyone), default=0.0)


def _default_run_s(tenants: Sequence[TenantState]) -> float:
    """The run time charged for a tenant without history: the mean over the tenants that have one."""
    means = [t.service.mean_run_s for t in tenants if t.service.mean_run_s]
    return sum(means) / len(means) if means else DEFAULT_RUN_S


def plan_admissions(snapshot: Snapshot) -> list[Admission]:
    """Return the admissions that fit now, in the order they should be started."""
    free: dict[PoolName, int] = {name: pool.free for name, pool in snapshot.pools.items()}
    tokens = snapshot.start_tokens
    if tokens <= 0 or not any(slots > 0 for slots in free.values()):
        return []

    # One heap per pool, by the pool of each tenant's head. The next admission is the least entry
    # among pools with free slots; a full pool's heap is left as it is, since its tenants are
    # blocked for the rest of the round (I-5). This equals one heap whose entries for full pools
    # are dropped when popped, without popping every blocked tenant once a pool fills.
    heaps: dict[PoolName, list[_HeapEntry]] = {name: [] for name in free}
    heads: dict[int, QueuedQuery] = {}
    cursors: dict[int, Iterator[QueuedQuery]] = {}
    running: dict[int, int] = {}
    now = snapshot.now
    fair = snapshot.share == "fair_share"
    # fair share only: charge at the snapshot, charge per admission, lift of a rejoining tenant
    charge: dict[int, float] = {}
    cost: dict[int, float] = {}
    lift: dict[int, float] = {}
    since: dict[int, float] = {}
    default_run = _default_run_s(snapshot.tenants) if fair else 0.0
    # Tenants that rejoin (with when their oldest waiting query came) get their key once the virtual
    # time is known: the least charge / weight of the others (`virtual_time`).
    rejoining: list[tuple[int, TenantState, QueuedQuery, float | None]] = []
    least: float | None = None
    # Once per tenant per call, so no property or helper calls here (TenantState.held_by_budget and
    # Service.rejoins inlined; the queue's oldest submission is read only when it decides).
    for index, tenant in enumerate(snapshot.tenants):
        policy = tenant.policy
        tenant_running = tenant.running
        if tenant_running >= policy.max_concurrency:
            continue
        budget = policy.daily_bytes_budget
        if budget is not None and tenant.bytes_today >= budget:
            continue
        head = tenant.queue.head(now, policy.aging_seconds, policy.max_aging_boost)
        if head is None or free.get(head.pool, 0) <= 0:
            continue
        heads[index] = head
        running[index] = tenant_running
        if not fair:
            heaps[head.pool].append(
                (tenant_running / policy.weight, 1, head.submitted_at, policy.name, index)
            )
            continue
        service = tenant.service
        each = cost[index] = service.mean_run_s or default_run
        elapsed, holding = service.elapsed_s, tenant_running * each
        held = charge[index] = service.received_s + (elapsed if elapsed > holding else holding)
        claimed = service.claimed_at
        waiting_since = None if claimed is None else tenant.queue.oldest_submitted_at()
        if waiting_since is None or claimed < waiting_since:  # type: ignore[operator]
            rejoining.append((index, tenant, head, waiting_since))
            continue
        key = held / policy.weight
        if least is None or key < least:
            least = key
        heaps[head.pool].append((key, 1, head.submitted_at, policy.name, index))
    if rejoining:
        level = virtual_time(least, snapshot.tenants)
        for index, tenant, head, waiting_since in rejoining:
            weight = tenant.policy.weight
            up = level * weight - charge[index]
            if up > 1e-9:
                lift[index] = up
                since[index] = tenant.queue.oldest_submitted_at() if waiting_since is None else waiting_since  # type: ignore[assignment]
                charge[index] += up
            heaps[head.pool].append((charge[index] / weight, 0, head.submitted_at, tenant.policy.name, index))
    for heap in heaps.values():
        heapq.heapify(heap)

    admissions: list[Admission] = []
    while tokens > 0:
        open_heaps = [heap for name, heap in heaps.items() if heap and free[name] > 0]
        if not open_heaps:
            break
        _, _, _, name, index = heapq.heappop(min(open_heaps, key=lambda heap: heap[0]))
        head = heads.pop(index)
        admissions.append(
            Admission(
                query=head, pool=head.pool, lift_s=lift.pop(index, 0.0), lift_since=since.pop(index, None)
            )
        )
        free[head.pool] -= 1
        tokens -= 1
        running[index] += 1
        tenant = snapshot.tenants[index]
        policy = tenant.policy
        if fair:
            charge[index] += cost[index]
        if running[index] < policy.max_concurrency:
            cursor = cursors.get(index)
            if cursor is None:
                # The queue's order, past the head just admitted (built only for admitted tenants).
                cursor = cursors[index] = _candidates(tenant, now)
                next(cursor)
            following = next(cursor, None)
            if following is not None and following.pool in heaps:
                heads[index] = following
                key = charge[index] / policy.weight if fair else running[index] / policy.weight
                heapq.heappush(heaps[following.pool], (key, 1, following.submitted_at, name, index))
    return admissions
