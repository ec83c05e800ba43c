"""Why a queued query waits, in the words an operator acts on (Trino's "why is my query queued").

`waiting` reads the snapshot a round planned from and the round's plan, and says, for each tenant
with work still queued after the plan, what holds its next query, checked in this order:
- `budget_hold`: the tenant is over its daily bytes budget (`budget_action = "hold"`);
- `tenant_cap`: its running queries (with those just planned) are at `max_concurrency`;
- `throttle_backoff`: the pool of its next query is full at an effective limit that throttles lowered
  below the ceiling (foreign load shares the quota, I-7);
- `pool_full`: that pool is full at its ceiling (`quota - headroom`): the platform's own load;
- `start_rate`: the round's start tokens are spent (StartQueryExecution rate);
- `fair_share`: none of these; other tenants took the slots first (the round's order, I-6).
The dispatcher publishes each tenant's age and reason (`OldestQueuedAgeSeconds`, dimensions tenant
and reason) and records the reason for `GET /queries/{id}`; this is the only place it is decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from fairshare.domain.model import Admission, PoolName, Snapshot

WaitReason = Literal["budget_hold", "tenant_cap", "throttle_backoff", "pool_full", "start_rate", "fair_share"]
WAIT_REASONS: tuple[WaitReason, ...] = (
    "budget_hold",
    "tenant_cap",
    "throttle_backoff",
    "pool_full",
    "start_rate",
    "fair_share",
)


@dataclass(slots=True, frozen=True)
class Waiting:
    """A tenant with queries still queued after a round's plan: why, and since when its oldest query
    the round saw (None when the round saw none of those still queued)."""

    tenant: str
    reason: WaitReason
    oldest_submitted_at: float | None

    def age(self, now: float) -> float | None:
        return None if self.oldest_submitted_at is None else max(0.0, now - self.oldest_submitted_at)


def waiting(snapshot: Snapshot, plan: Sequence[Admission], queued: Mapping[str, int]) -> list[Waiting]:
    """Each tenant that still has queries queued once `plan` is admitted, with why it waits.

    `queued` is each tenant's queued count (the ledger's counter): a tenant's snapshot queue holds only
    the heads the round read, so a tenant may have more queued than its queue shows.
    """
    free: dict[PoolName, int] = {name: pool.free for name, pool in snapshot.pools.items()}
    admitted: dict[str, set[str]] = {}
    for admission in plan:
        free[admission.pool] = free.get(admission.pool, 0) - 1
        admitted.setdefault(admission.tenant, set()).add(admission.query.query_id)
    tokens_left = snapshot.start_tokens - len(plan)
    out: list[Waiting] = []
    for tenant in snapshot.tenants:
        policy = tenant.policy
        taken = admitted.get(policy.name, set())
        if queued.get(policy.name, len(tenant.queue)) - len(taken) <= 0:
            continue
        shown = list(tenant.queue.ordered(snapshot.now, policy.aging_seconds, policy.max_aging_boost))
        remaining = [q for q in shown if q.query_id not in taken]
        oldest = min((q.submitted_at for q in remaining), default=None)
        # Its next query's pool; when the round admitted all it read, that of the last one it read.
        next_pool = remaining[0].pool if remaining else (shown[-1].pool if shown else None)
        reason: WaitReason
        if tenant.held_by_budget:
            reason = "budget_hold"
        elif tenant.running + len(taken) >= policy.max_concurrency:
            reason = "tenant_cap"
        elif (pool := _full_pool(snapshot, free, next_pool)) is not None:
            reason = "throttle_backoff" if snapshot.pools[pool].backed_off else "pool_full"
        elif tokens_left <= 0:
            reason = "start_rate"
        else:
            reason = "fair_share"
        out.append(Waiting(policy.name, reason, oldest))
    return out


def _full_pool(snapshot: Snapshot, free: Mapping[PoolName, int], pool: PoolName | None) -> PoolName | None:
    """The full pool that holds the tenant's next query: its pool if known, else (the round read none
    of the tenant's queries) a pool when every pool is full."""
    if pool is not None:
        return pool if free.get(pool, 0) <= 0 else None
    full = [name for name in snapshot.pools if free.get(name, 0) <= 0]
    return full[0] if full and len(full) == len(snapshot.pools) else None
