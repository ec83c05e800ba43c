"""Admission across tenants (I-2, I-5, I-6): Trino's `weighted_fair` over per-tenant queues.

Among tenants with work queued, below their hard cap and within budget, the next slot goes to the
least `running / weight`; ties go to the oldest head of line. A tenant only ever offers its own head
(I-5): if the head's pool is full, nothing behind it passes. Each decision costs O(log tenants).
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

    heap: list[_HeapEntry] = []
    heads: dict[int, QueuedQuery] = {}
    cursors: dict[int, Iterator[QueuedQuery]] = {}
    running: dict[int, int] = {}
    for index, tenant in enumerate(snapshot.tenants):
        policy = tenant.policy
        if tenant.running >= policy.max_concurrency or tenant.held_by_budget or not tenant.queue:
            continue
        cursor = _candidates(tenant, snapshot.now)
        head = next(cursor, None)
        if head is None:
            continue
        heads[index], cursors[index], running[index] = head, cursor, tenant.running
        heap.append((tenant.running / policy.weight, head.submitted_at, policy.name, index))
    heapq.heapify(heap)

    admissions: list[Admission] = []
    while heap and tokens > 0:
        _, _, name, index = heapq.heappop(heap)
        head = heads.pop(index)
        if free.get(head.pool, 0) <= 0:
            # I-5: the head waits for its pool; nothing behind it may pass.
            continue
        admissions.append(Admission(query=head, pool=head.pool))
        free[head.pool] -= 1
        tokens -= 1
        running[index] += 1
        policy = snapshot.tenants[index].policy
        if running[index] < policy.max_concurrency:
            following = next(cursors[index], None)
            if following is not None:
                heads[index] = following
                heapq.heappush(heap, (running[index] / policy.weight, following.submitted_at, name, index))
        if not any(slots > 0 for slots in free.values()):
            break
    return admissions
