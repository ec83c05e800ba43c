"""Admission across tenants (I-2, I-5, I-6): Trino's `weighted_fair` over per-tenant queues.

Among tenants with work queued, below their hard cap and within budget, the next slot goes to the
least `running / weight`; ties go to the oldest head of line. A tenant only ever offers its own head
(I-5): if the head's pool is full, nothing behind it passes. A call first reads every eligible
tenant's head, O(tenants) (about 1 ms for 1,000 tenants, see scripts/bench_admission.py); then each
decision costs O(log tenants).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from fairshare.domain.model import Admission, PoolName, QueuedQuery, Snapshot, TenantState

# (running/weight, head submitted_at, tenant name, tenant index); the index breaks nothing but
# keeps the tuple comparable without comparing queries.
_HeapEntry = tuple[float, float, str, int]


def _candidates(tenant: TenantState, now: float) -> Iterator[QueuedQuery]:
    policy = tenant.policy
    return tenant.queue.ordered(now, policy.aging_seconds, policy.max_aging_boost)


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
    # Once per tenant per call, so no property or helper calls here (TenantState.held_by_budget inlined).
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
        heaps[head.pool].append((tenant_running / policy.weight, head.submitted_at, policy.name, index))
    for heap in heaps.values():
        heapq.heapify(heap)

    admissions: list[Admission] = []
    while tokens > 0:
        open_heaps = [heap for name, heap in heaps.items() if heap and free[name] > 0]
        if not open_heaps:
            break
        _, _, name, index = heapq.heappop(min(open_heaps, key=lambda heap: heap[0]))
        head = heads.pop(index)
        admissions.append(Admission(query=head, pool=head.pool))
        free[head.pool] -= 1
        tokens -= 1
        running[index] += 1
        tenant = snapshot.tenants[index]
        policy = tenant.policy
        if running[index] < policy.max_concurrency:
            cursor = cursors.get(index)
            if cursor is None:
                # The queue's order, past the head just admitted (built only for admitted tenants).
                cursor = cursors[index] = _candidates(tenant, now)
                next(cursor)
            following = next(cursor, None)
            if following is not None and following.pool in heaps:
                heads[index] = following
                heapq.heappush(
                    heaps[following.pool],
                    (running[index] / policy.weight, following.submitted_at, name, index),
                )
    return admissions
