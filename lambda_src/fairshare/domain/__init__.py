"""The scheduling domain: pure Python, no I/O, no clock reads (I-9).

The dispatcher Lambda and the simulator call exactly these functions.
"""

from fairshare.domain.admission import plan_admissions
from fairshare.domain.errors import (
    BudgetExceeded,
    Conflict,
    DependencyUnavailable,
    FairshareError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    Unauthorized,
    ValidationFailed,
)
from fairshare.domain.limits import EffectiveLimit, LimitPolicy, Room, whole_slots
from fairshare.domain.model import (
    Admission,
    PoolName,
    PoolState,
    QueuedQuery,
    SharePolicy,
    Snapshot,
    TenantPolicy,
    TenantState,
)
from fairshare.domain.queue import TenantQueue, effective_priority
from fairshare.domain.ratelimit import TokenBucket
from fairshare.domain.service import Service, ServiceDecay, ServiceHistory
from fairshare.domain.statements import MAX_QUERY_BYTES, classify_statement
from fairshare.domain.tenant_rules import BudgetAction

__all__ = [
    "MAX_QUERY_BYTES",
    "Admission",
    "BudgetAction",
    "BudgetExceeded",
    "Conflict",
    "DependencyUnavailable",
    "EffectiveLimit",
    "FairshareError",
    "Forbidden",
    "LimitPolicy",
    "NotFound",
    "PayloadTooLarge",
    "PoolName",
    "PoolState",
    "QueueFull",
    "QueuedQuery",
    "Room",
    "Service",
    "ServiceDecay",
    "ServiceHistory",
    "SharePolicy",
    "Snapshot",
    "TenantPolicy",
    "TenantQueue",
    "TenantState",
    "TokenBucket",
    "Unauthorized",
    "ValidationFailed",
    "classify_statement",
    "effective_priority",
    "plan_admissions",
    "whole_slots",
]
