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
is full, nothing behind it passes. A call first reads every eligible tenant's head and computes its
key, O(tenants), which is most of a call's cost (scripts/bench_admission.py; docs/FAIR_SHARE.md has
the figures); then each decision costs O(log tenants).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from fairshare.domain.model import Admission, PoolName, QueuedQuery, Snapshot, TenantState
from fairshare.domain.service import DEFAULT_RUN_S

# (charge/weight or running/weight, 0 for a rejoining tenant else 1, head submitted_at, tenant name,
# tenant index, head); the index is unique, so comparisons never reach the head.
_HeapEntry = tuple[float, int, float, str, int, QueuedQuery]


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
    heaps: dict[PoolName, list[_HeapEntry]] = {name: [] for name, slots in free.items() if slots > 0}
    now = snapshot.now
    fair = snapshot.share == "fair_share"
    default_run: float | None = None  # fair share only, computed at the first tenant without history
    # Tenants that rejoin (with when their oldest waiting query came) get their key once the virtual
    # time is known: the least charge / weight of the others (`virtual_time`).
    rejoining: list[tuple[int, TenantState, QueuedQuery, float | None, float]] = []
    least: float | None = None
    # This loop runs once per tenant per call and is the cost of a call (scripts/bench_admission.py),
    # so it only computes each eligible tenant's key: what the admissions need of a tenant beyond it
    # is computed for the admitted ones below. TenantState.held_by_budget, Service.rejoins and the
    # charge are inlined.
    for index, tenant in enumerate(snapshot.tenants):
        policy = tenant.policy
        tenant_running = tenant.running
        if tenant_running >= policy.max_concurrency:
            continue
        budget = policy.daily_bytes_budget
        if budget is not None and tenant.bytes_today >= budget:
            continue
        head = tenant.queue.head(now, policy.aging_seconds, policy.max_aging_boost)
        if head is None:
            continue
        heap = heaps.get(head.pool)
        if heap is None:
            continue
        if not fair:
            heap.append((tenant_running / policy.weight, 1, head.submitted_at, policy.name, index, head))
            continue
        service = tenant.service
        each = service.mean_run_s
        if not each:
            if default_run is None:
                default_run = _default_run_s(snapshot.tenants)
            each = default_run
        holding = tenant_running * each
        elapsed = service.elapsed_s
        held = service.received_s + (elapsed if elapsed > holding else holding)
        claimed = service.claimed_at
        waiting_since = tenant.queue.oldest_submitted_at()
        if claimed is None or (waiting_since is not None and claimed < waiting_since):
            rejoining.append((index, tenant, head, waiting_since, held))
            continue
        key = held / policy.weight
        if least is None or key < least:
            least = key
        heap.append((key, 1, head.submitted_at, policy.name, index, head))
    lift: dict[int, tuple[float, float | None]] = {}
    if rejoining:
        level = virtual_time(least, snapshot.tenants)
        for index, tenant, head, waiting_since, held in rejoining:
            weight = tenant.policy.weight
            up = level * weight - held
            if up > 1e-9:
                lift[index] = (up, waiting_since)
                held += up
            heaps[head.pool].append((held / weight, 0, head.submitted_at, tenant.policy.name, index, head))
    for heap in heaps.values():
        heapq.heapify(heap)

    admissions: list[Admission] = []
    admitted: dict[int, int] = {}  # admissions so far per tenant index
    cursors: dict[int, Iterator[QueuedQuery]] = {}
    while tokens > 0:
        open_heaps = [heap for name, heap in heaps.items() if heap and free[name] > 0]
        if not open_heaps:
            break
        key, _, _, name, index, head = heapq.heappop(min(open_heaps, key=lambda heap: heap[0]))
        up, since = lift.pop(index, (0.0, None))
        admissions.append(Admission(query=head, pool=head.pool, lift_s=up, lift_since=since))
        free[head.pool] -= 1
        tokens -= 1
        count = admitted[index] = admitted.get(index, 0) + 1
        tenant = snapshot.tenants[index]
        policy = tenant.policy
        running = tenant.running + count
        if running >= policy.max_concurrency:
            continue
        cursor = cursors.get(index)
        if cursor is None:
            # The queue's order, past the head just admitted (built only for admitted tenants).
            cursor = cursors[index] = _candidates(tenant, now)
            next(cursor)
        following = next(cursor, None)
        if following is None or following.pool not in heaps:
            continue
        if fair:
            # One mean run time more for the query just admitted (the key's charge, over the weight).
            key += (tenant.service.mean_run_s or default_run or DEFAULT_RUN_S) / policy.weight
        else:
            key = running / policy.weight
        heapq.heappush(heaps[following.pool], (key, 1, following.submitted_at, name, index, following))
    return admissions
