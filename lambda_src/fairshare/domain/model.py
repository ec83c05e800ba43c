"""Value types of the scheduling domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from fairshare.domain.errors import ValidationFailed
from fairshare.domain.service import Service

if TYPE_CHECKING:
    from fairshare.domain.queue import TenantQueue

PoolName = Literal["DML", "DDL"]
POOLS: tuple[PoolName, ...] = ("DML", "DDL")
BudgetAction = Literal["hold", "reject"]
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
        problems = []
        if not self.name:
            problems.append("name must not be empty")
        if not self.weight > 0:
            problems.append(f"weight must be > 0, got {self.weight}")
        if self.max_concurrency < 1:
            problems.append(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.max_queued < 1:
            problems.append(f"max_queued must be >= 1, got {self.max_queued}")
        if self.daily_bytes_budget is not None and self.daily_bytes_budget < 1:
            problems.append(f"daily_bytes_budget must be >= 1 or unset, got {self.daily_bytes_budget}")
        if self.budget_action not in ("hold", "reject"):
            problems.append(f"budget_action must be 'hold' or 'reject', got {self.budget_action!r}")
        if not 1 <= self.priority_levels <= 10:
            problems.append(f"priority_levels must be within 1..10, got {self.priority_levels}")
        if self.aging_seconds is not None and not self.aging_seconds > 0:
            problems.append(f"aging_seconds must be > 0 or unset, got {self.aging_seconds}")
        if self.max_aging_boost < 0:
            problems.append(f"max_aging_boost must be >= 0, got {self.max_aging_boost}")
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
    """One quota pool as the platform sees it: its admitted-and-active count and its effective limit."""

    name: PoolName
    active: int
    effective_limit: int

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
