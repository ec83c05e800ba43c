"""Other admission orders, for comparison: each is a planner the dispatcher's round runs instead of
`plan_admissions` (`Deps.planner`), so that a baseline differs from the platform in its order only.

Both keep what any admission must: a pool's free slots, the start tokens, each tenant's hard cap and
daily-bytes hold, and each tenant's own queue order (I-5: a tenant offers its head; if the head's pool
is full, nothing behind it passes).
- `fifo_planner`: one FIFO across tenants, by the submission time of each tenant's next query; weights
  and service are ignored.
- `RoundRobinPlanner`: tenants take turns, one query per turn, in a fixed rotation that carries over
  from round to round; weights and service are ignored.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from fairshare.domain import Admission, QueuedQuery, Snapshot, TenantState
from fairshare.domain.model import PoolName


def _eligible(tenant: TenantState) -> bool:
    return tenant.running < tenant.policy.max_concurrency and not tenant.held_by_budget


def _order(tenant: TenantState, now: float) -> Iterator[QueuedQuery]:
    policy = tenant.policy
    return tenant.queue.ordered(now, policy.aging_seconds, policy.max_aging_boost)


def fifo_planner(snapshot: Snapshot) -> list[Admission]:
    """Admit the oldest next query among all tenants, again and again, while slots and tokens last."""
    free: dict[PoolName, int] = {name: pool.free for name, pool in snapshot.pools.items()}
    tokens = snapshot.start_tokens
    cursors: dict[int, Iterator[QueuedQuery]] = {}
    running: dict[int, int] = {}
    heap: list[tuple[float, int, QueuedQuery]] = []
    for index, tenant in enumerate(snapshot.tenants):
        if not _eligible(tenant):
            continue
        cursor = cursors[index] = _order(tenant, snapshot.now)
        head = next(cursor, None)
        if head is not None:
            running[index] = tenant.running
            heap.append((head.submitted_at, index, head))
    heapq.heapify(heap)
    admissions: list[Admission] = []
    while heap and tokens > 0 and any(slots > 0 for slots in free.values()):
        _, index, query = heapq.heappop(heap)
        if free.get(query.pool, 0) <= 0:
            continue  # I-5: the tenant's head waits for its pool; nothing behind it passes
        admissions.append(Admission(query, query.pool))
        free[query.pool] -= 1
        tokens -= 1
        running[index] += 1
        if running[index] < snapshot.tenants[index].policy.max_concurrency:
            following = next(cursors[index], None)
            if following is not None:
                heapq.heappush(heap, (following.submitted_at, index, following))
    return admissions


class RoundRobinPlanner:
    """One query per tenant per turn; the rotation goes on where the last round left it."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self, snapshot: Snapshot) -> list[Admission]:
        tenants = snapshot.tenants
        count = len(tenants)
        free: dict[PoolName, int] = {name: pool.free for name, pool in snapshot.pools.items()}
        tokens = snapshot.start_tokens
        cursors: dict[int, Iterator[QueuedQuery]] = {}
        running = [tenant.running for tenant in tenants]
        blocked = {index for index, tenant in enumerate(tenants) if not _eligible(tenant)}
        admissions: list[Admission] = []
        idle_turns = 0
        while count and tokens > 0 and idle_turns < count and any(slots > 0 for slots in free.values()):
            index = self._next % count
            self._next = (index + 1) % count
            tenant = tenants[index]
            if index in blocked or running[index] >= tenant.policy.max_concurrency:
                blocked.add(index)
                idle_turns += 1
                continue
            cursor = cursors.get(index)
            if cursor is None:
                cursor = cursors[index] = _order(tenant, snapshot.now)
            head = next(cursor, None)
            if head is None or free.get(head.pool, 0) <= 0:
                blocked.add(index)  # I-5: nothing behind a head that waits passes it
                idle_turns += 1
                continue
            admissions.append(Admission(head, head.pool))
            free[head.pool] -= 1
            tokens -= 1
            running[index] += 1
            idle_turns = 0
        return admissions
