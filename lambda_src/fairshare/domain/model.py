"""Value types of the scheduling domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from fairshare.domain.errors import ValidationFailed
from fairshare.domain.service import Service
from fairshare.domain.tenant_rules import (
    BUDGET_ACTIONS,
    TENANT_BOUNDS,
    TENANT_NAME_PATTERN,
    BudgetAction,
    valid_tenant_name,
)

if TYPE_CHECKING:
    from fairshare.domain.queue import TenantQueue

PoolName = Literal["DML", "DDL"]
POOLS: tuple[PoolName, ...] = ("DML", "DDL")
# How admission shares the slots among tenants: by service received (default) or by current
# concurrency (Trino's `weighted_fair`). See fairshare.domain.admission.
SharePolicy = Literal["fair_share", "weighted_fair"]
SHARE_POLICIES: tuple[SharePolicy, ...] = ("fair_share", "weighted_fair")


@dataclass(slots=True, frozen=True)
class TenantPolicy:
    """A tenant's scheduling policy, in Trino resource-group words (weight, hard limit, max queued)."""

    name: str
    weight: float = 1.0
    max_concurrency: int = 10
    max_queued: int = 1000
    daily_bytes_budget: int | None = None
    budget_action: BudgetAction = "hold"
    allow_ddl: bool = False
    priority_levels: int = 3
    aging_seconds: float | None = None
    max_aging_boost: int = 1

    def __post_init__(self) -> None:
        # The same rules as the configuration object's (fairshare.domain.tenant_rules).
        problems = []
        if not valid_tenant_name(self.name):
            problems.append(f"name must match {TENANT_NAME_PATTERN}")
        for field_name, bound in _POLICY_BOUNDS.items():
            value = getattr(self, field_name)
            if not bound.admits(value):
                problems.append(f"{field_name} must be {bound.describe()}, got {value!r}")
        if self.budget_action not in BUDGET_ACTIONS:
            problems.append(f"budget_action must be one of {BUDGET_ACTIONS}, got {self.budget_action!r}")
        if problems:
            raise ValidationFailed(f"tenant {self.name!r}: " + "; ".join(problems))

    @property
    def max_priority(self) -> int:
        return self.priority_levels - 1

    @property
    def default_priority(self) -> int:
        return self.priority_levels // 2

    def check_priority(self, priority: int) -> None:
        if not 0 <= priority <= self.max_priority:
            raise ValidationFailed(f"priority must be within 0..{self.max_priority}, got {priority}")

    def over_budget(self, bytes_today: int) -> bool:
        return self.daily_bytes_budget is not None and bytes_today >= self.daily_bytes_budget


# The bounded fields a policy carries (the workgroup's cutoff is not the scheduler's).
_POLICY_BOUNDS = {
    name: bound for name, bound in TENANT_BOUNDS.items() if name in TenantPolicy.__dataclass_fields__
}


@dataclass(slots=True, frozen=True)
class QueuedQuery:
    """A query waiting for admission. `seq` is monotonic per tenant (FIFO within a priority)."""

    query_id: str
    tenant: str
    priority: int
    seq: int
    submitted_at: float
    pool: PoolName = "DML"


@dataclass(slots=True, frozen=True)
class PoolState:
    """One quota pool as the platform sees it: its admitted-and-active count and its effective limit;
    `ceiling` is the limit without throttles (`quota - headroom`; None: the effective limit)."""

    name: PoolName
    active: int
    effective_limit: int
    ceiling: int | None = None

    @property
    def backed_off(self) -> bool:
        """The effective limit is below the ceiling: throttles (foreign load) lowered it (I-7)."""
        return self.ceiling is not None and self.effective_limit < self.ceiling

    @property
    def free(self) -> int:
        return max(0, self.effective_limit - self.active)


@dataclass(slots=True, frozen=True)
class TenantState:
    """A tenant at snapshot time: policy, active count, its ordered queue (empty when it has nothing
    queued: it still counts for fair share), today's scanned bytes and the service it has received."""

    policy: TenantPolicy
    running: int
    queue: TenantQueue
    bytes_today: int = 0
    service: Service = field(default_factory=Service)

    @property
    def held_by_budget(self) -> bool:
        return self.policy.over_budget(self.bytes_today)


@dataclass(slots=True, frozen=True)
class Snapshot:
    """What admission needs to decide: the time, the pools, the tenants, the start tokens left and
    the share policy."""

    now: float
    pools: Mapping[PoolName, PoolState]
    tenants: Sequence[TenantState]
    start_tokens: int
    share: SharePolicy = "fair_share"


@dataclass(slots=True, frozen=True)
class Admission:
    """One decision: start this query now, in this pool.

    `lift_s`: slot-seconds to add to the tenant's service with the claim, which the claim may only do
    while the tenant has been given no slot since `lift_since` (its oldest waiting query's
    submission): a tenant that was not backlogged rejoins at the virtual time and banks no credit
    for the time its demand was below its share.
    """

    query: QueuedQuery
    pool: PoolName
    lift_s: float = 0.0
    lift_since: float | None = None

    @property
    def tenant(self) -> str:
        return self.query.tenant
