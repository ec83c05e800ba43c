"""Per-tenant queue order (I-5): higher priority first, FIFO within a priority, optional bounded aging."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from fairshare.domain.model import QueuedQuery


def effective_priority(
    query: QueuedQuery, now: float, aging_seconds: float | None, max_aging_boost: int
) -> int:
    """The priority a query competes with: +1 per `aging_seconds` waited, at most `max_aging_boost`."""
    if aging_seconds is None or max_aging_boost <= 0:
        return query.priority
    waited = max(0.0, now - query.submitted_at)
    return query.priority + min(max_aging_boost, int(waited // aging_seconds))


class TenantQueue:
    """One tenant's queued queries, one FIFO per priority level.

    Within a level, older queries age at least as much as younger ones, so the best query of the
    whole queue is always one of the level heads: picking the next costs O(levels), not O(n).
    """

    __slots__ = ("_levels", "_oldest", "_size", "_top")

    def __init__(self, queries: Iterable[QueuedQuery] = ()) -> None:
        self._levels: dict[int, deque[QueuedQuery]] = {}
        self._top: deque[QueuedQuery] | None = None  # the highest priority level, kept for head()
        self._oldest: float | None = None  # oldest_submitted_at(), cached; None: to be recomputed
        self._size = 0
        for query in sorted(queries, key=lambda q: q.seq):
            self.push(query)

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def push(self, query: QueuedQuery) -> None:
        level = self._levels.get(query.priority)
        if level is None:
            level = self._levels[query.priority] = deque()
            if self._top is None or query.priority > self._top[0].priority:
                self._top = level
        elif level[-1].seq > query.seq:
            # equal numbers are two submissions at the same instant: either order is FIFO
            raise ValueError(f"seq must increase within a tenant: {query.seq} after {level[-1].seq}")
        level.append(query)
        self._size += 1
        if self._oldest is not None and query.submitted_at < self._oldest:
            self._oldest = query.submitted_at

    def ordered(
        self, now: float, aging_seconds: float | None = None, max_aging_boost: int = 0
    ) -> Iterator[QueuedQuery]:
        """Yield the queue in admission order without changing it."""
        cursors = {prio: 0 for prio, level in self._levels.items() if level}
        while cursors:
            best_prio = -1
            best_key: tuple[int, int] | None = None
            for prio, idx in cursors.items():
                query = self._levels[prio][idx]
                key = (-effective_priority(query, now, aging_seconds, max_aging_boost), query.seq)
                if best_key is None or key < best_key:
                    best_key, best_prio = key, prio
            idx = cursors[best_prio]
            level = self._levels[best_prio]
            yield level[idx]
            if idx + 1 < len(level):
                cursors[best_prio] = idx + 1
            else:
                del cursors[best_prio]

    def head(
        self, now: float, aging_seconds: float | None = None, max_aging_boost: int = 0
    ) -> QueuedQuery | None:
        """The first query of `ordered()`, without building the iterator (admission asks every tenant)."""
        if aging_seconds is None or max_aging_boost <= 0:
            # Levels are never empty (remove() drops an emptied one): the highest level's head.
            return self._top[0] if self._top is not None else None
        if not self._levels:
            return None
        # As effective_priority(), inlined: this runs for every aging tenant in every admission round.
        best: QueuedQuery | None = None
        best_priority = best_seq = 0
        for level in self._levels.values():
            query = level[0]
            waited = now - query.submitted_at
            priority = query.priority + (
                min(max_aging_boost, int(waited // aging_seconds)) if waited > 0 else 0
            )
            if (
                best is None
                or priority > best_priority
                or (priority == best_priority and query.seq < best_seq)
            ):
                best, best_priority, best_seq = query, priority, query.seq
        return best

    def oldest_submitted_at(self) -> float | None:
        """When the longest-waiting query was submitted (each level is FIFO: one of the level heads).
        Cached until a removal, since admission asks it of every tenant in every round."""
        if self._oldest is None and self._levels:
            self._oldest = min(level[0].submitted_at for level in self._levels.values())
        return self._oldest

    def remove(self, query: QueuedQuery) -> None:
        """Remove an admitted or cancelled query (O(1) for a level head, the usual case)."""
        level = self._levels.get(query.priority)
        if not level:
            raise KeyError(query.query_id)
        self._oldest = None
        if level[0] == query:
            level.popleft()
        else:
            level.remove(query)
        if not level:
            del self._levels[query.priority]
            if level is self._top:
                self._top = self._levels[max(self._levels)] if self._levels else None
        self._size -= 1
