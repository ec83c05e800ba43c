from __future__ import annotations

import pytest
from fairshare.domain import QueuedQuery, TenantQueue, effective_priority
from hypothesis import given
from hypothesis import strategies as st


def _query(seq: int, priority: int, submitted_at: float) -> QueuedQuery:
    return QueuedQuery(query_id=f"q{seq}", tenant="t", priority=priority, seq=seq, submitted_at=submitted_at)


queues = st.lists(
    st.tuples(st.integers(0, 4), st.floats(0, 1000, allow_nan=False)), min_size=0, max_size=60
).map(
    lambda items: [
        # submission times grow with seq, as they do in the ledger
        _query(seq, prio, at)
        for seq, (prio, at) in enumerate(zip([p for p, _ in items], sorted(a for _, a in items), strict=True))
    ]
)


@given(queues)
def test_without_aging_order_is_priority_then_fifo(queries: list[QueuedQuery]) -> None:
    ordered = list(TenantQueue(queries).ordered(now=1000.0))
    assert ordered == sorted(queries, key=lambda q: (-q.priority, q.seq))


@given(
    queues,
    st.floats(1, 500, allow_nan=False),
    st.integers(0, 3),
    st.floats(0, 3000, allow_nan=False),
)
def test_with_aging_order_is_effective_priority_then_fifo(
    queries: list[QueuedQuery], aging_seconds: float, max_boost: int, now: float
) -> None:
    now = max([now, *(q.submitted_at for q in queries)])
    ordered = list(TenantQueue(queries).ordered(now, aging_seconds, max_boost))
    expected = sorted(queries, key=lambda q: (-effective_priority(q, now, aging_seconds, max_boost), q.seq))
    assert ordered == expected


def test_aging_is_bounded() -> None:
    old_low = _query(1, priority=0, submitted_at=0.0)
    assert effective_priority(old_low, now=10_000.0, aging_seconds=10.0, max_aging_boost=2) == 2
    assert effective_priority(old_low, now=15.0, aging_seconds=10.0, max_aging_boost=2) == 1
    assert effective_priority(old_low, now=10_000.0, aging_seconds=None, max_aging_boost=2) == 0


def test_aged_low_priority_passes_younger_high_priority_only_once_boosted() -> None:
    old_low = _query(1, priority=0, submitted_at=0.0)
    young_high = _query(2, priority=1, submitted_at=50.0)
    queue = TenantQueue([old_low, young_high])
    assert queue.head(now=55.0, aging_seconds=60.0, max_aging_boost=1) == young_high
    # at 60 s the old query reaches priority 1 and, being older, goes first
    assert queue.head(now=60.0, aging_seconds=60.0, max_aging_boost=1) == old_low


def test_remove_and_len() -> None:
    queries = [_query(i, i % 2, float(i)) for i in range(5)]
    queue = TenantQueue(queries)
    assert len(queue) == 5
    head = queue.head(now=10.0)
    assert head is not None and head.priority == 1
    queue.remove(head)
    assert len(queue) == 4
    assert head not in list(queue.ordered(10.0))
    with pytest.raises(KeyError):
        queue.remove(_query(99, 3, 0.0))


def test_push_rejects_out_of_order_sequence() -> None:
    queue = TenantQueue([_query(5, 1, 0.0)])
    with pytest.raises(ValueError, match="seq must increase"):
        queue.push(_query(3, 1, 0.0))


@given(queues, st.lists(st.integers(0, 59), max_size=60), st.sampled_from([None, 30.0]))
def test_head_and_oldest_follow_any_pushes_and_removals(
    queries: list[QueuedQuery], removals: list[int], aging_seconds: float | None
) -> None:
    queue = TenantQueue()
    present: list[QueuedQuery] = []
    for query, victim in zip(queries, removals + [-1] * len(queries), strict=False):
        queue.push(query)
        present.append(query)
        if 0 <= victim < len(present):
            queue.remove(present.pop(victim))
        expected = next(queue.ordered(1000.0, aging_seconds, 2), None)
        assert queue.head(1000.0, aging_seconds, 2) == expected
        # the cached oldest submission is the least of what is queued, after every change
        assert queue.oldest_submitted_at() == min((q.submitted_at for q in present), default=None)
    assert len(queue) == len(present)
