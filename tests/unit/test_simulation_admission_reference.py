"""`plan_admissions` and `TenantQueue.head` decide exactly as the straightforward algorithm does.

The admission benchmark (1,000 tenants) made two shortcuts worth having: a heap per pool, so that a
full pool's blocked tenants are not popped one by one, and a head computed without building the
queue's iterator. The reference below is the single-heap algorithm written plainly, with the
`weighted_fair` key (least running / weight); every snapshot must get the same admissions, in the same
order. Fair share's keys and lifts are checked in test_domain_admission.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from fairshare.domain import (
    Admission,
    PoolName,
    PoolState,
    QueuedQuery,
    Snapshot,
    TenantPolicy,
    TenantQueue,
    TenantState,
    plan_admissions,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def reference_plan(snapshot: Snapshot) -> list[Admission]:
    free = {name: pool.free for name, pool in snapshot.pools.items()}
    tokens = snapshot.start_tokens
    if tokens <= 0 or not any(slots > 0 for slots in free.values()):
        return []
    heap: list[tuple[float, float, str, int]] = []
    heads: dict[int, QueuedQuery] = {}
    cursors: dict[int, Iterator[QueuedQuery]] = {}
    running: dict[int, int] = {}
    for index, tenant in enumerate(snapshot.tenants):
        policy = tenant.policy
        if tenant.running >= policy.max_concurrency or tenant.held_by_budget or not tenant.queue:
            continue
        cursor = tenant.queue.ordered(snapshot.now, policy.aging_seconds, policy.max_aging_boost)
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


@st.composite
def queues(draw: st.DrawFn, tenant: str = "t") -> list[QueuedQuery]:
    queries = []
    for seq in range(draw(st.integers(0, 25))):
        queries.append(
            QueuedQuery(
                query_id=f"{tenant}-{seq}",
                tenant=tenant,
                priority=draw(st.integers(0, 2)),
                seq=seq,
                # Few distinct times, so that ties between heads of line happen.
                submitted_at=float(draw(st.integers(0, 20)) * 50),
                pool="DDL" if draw(st.integers(0, 4)) == 0 else "DML",
            )
        )
    return queries


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    tenants = []
    for index in range(draw(st.integers(1, 12))):
        name = f"t{index:02d}"
        policy = TenantPolicy(
            name=name,
            weight=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
            max_concurrency=draw(st.integers(1, 10)),
            daily_bytes_budget=draw(st.sampled_from([None, 1000])),
            priority_levels=3,
            aging_seconds=draw(st.sampled_from([None, 100.0, 400.0])),
            max_aging_boost=draw(st.integers(0, 2)),
        )
        tenants.append(
            TenantState(
                policy=policy,
                running=draw(st.integers(0, policy.max_concurrency)),
                queue=TenantQueue(draw(queues(name))),
                bytes_today=draw(st.sampled_from([0, 5000])),
            )
        )
    pools: dict[PoolName, PoolState] = {
        "DML": PoolState("DML", active=draw(st.integers(0, 20)), effective_limit=draw(st.integers(1, 30))),
        "DDL": PoolState("DDL", active=draw(st.integers(0, 4)), effective_limit=draw(st.integers(1, 6))),
    }
    return Snapshot(
        now=1000.0, pools=pools, tenants=tenants, start_tokens=draw(st.integers(0, 60)), share="weighted_fair"
    )


@given(snapshots())
@settings(max_examples=80, deadline=None)
def test_plan_admissions_matches_the_single_heap_reference(snapshot: Snapshot) -> None:
    expected = [(a.query.query_id, a.pool) for a in reference_plan(snapshot)]
    actual = [(a.query.query_id, a.pool) for a in plan_admissions(snapshot)]
    assert actual == expected


@given(queues(), st.sampled_from([None, 100.0, 400.0]), st.integers(0, 2), st.floats(0, 2000))
@settings(max_examples=80, deadline=None)
def test_head_is_the_first_query_of_the_order(
    queries: list[QueuedQuery], aging_seconds: float | None, boost: int, now: float
) -> None:
    queue = TenantQueue(queries)
    assert queue.head(now, aging_seconds, boost) == next(queue.ordered(now, aging_seconds, boost), None)
    for query in list(queue.ordered(now))[::2]:
        queue.remove(query)
    assert queue.head(now, aging_seconds, boost) == next(queue.ordered(now, aging_seconds, boost), None)
