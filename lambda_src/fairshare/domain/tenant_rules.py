"""The rules of a tenant's policy, defined once.

The configuration object (`fairshare.config.TenantConfig`, pydantic) and the domain
(`fairshare.domain.model.TenantPolicy`) take their bounds from here. Terraform cannot import Python:
`terraform/modules/platform/variables.tf` writes the same rules as validations of `var.tenants`, and
`tests/terraform/test_tenant_rules.py` checks that its conditions are these bounds, and that both
sides accept and reject the same cases (`tests/terraform/tenant_policy_cases.json`, which the platform
module's `terraform test` also runs).

The name rule is the one real resource names need. A tenant's name becomes part of its Athena workgroup
(`<name_prefix>-<stage>-<tenant>`: at most 21 + 1 + 16 + 1 + 40 = 79 of the 128 characters Athena
allows, from `[a-zA-Z0-9._-]`), of its API key and usage plan names, of its budget alarm
(`<name_prefix>-<stage>-<tenant>-daily-bytes-budget`, at most 255), of its results prefix in S3 and of
its `tenant` tag (at most 256). Lowercase only, so that two names never differ by case alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

TENANT_NAME_PATTERN = "^[a-z0-9][a-z0-9_-]{0,39}$"
TENANT_NAME_MAX_LENGTH = 40
_TENANT_NAME = re.compile(TENANT_NAME_PATTERN)

# Athena's lowest `bytes_scanned_cutoff_per_query` of a workgroup (10 MiB).
MIN_BYTES_SCANNED_CUTOFF = 10_485_760

BudgetAction = Literal["hold", "reject"]
BUDGET_ACTIONS: tuple[BudgetAction, ...] = get_args(BudgetAction)
MIN_DATABASES = 1


def valid_tenant_name(name: str) -> bool:
    """The whole name matches `TENANT_NAME_PATTERN` (a trailing newline does not pass)."""
    return _TENANT_NAME.fullmatch(name) is not None


@dataclass(slots=True, frozen=True)
class Bound:
    """The range of one numeric field: `> gt` or `>= ge` below, `<= le` above, whole numbers if `integer`.

    `optional`: the field may be unset (None); then it holds no value to check.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    integer: bool = False
    optional: bool = False

    def admits(self, value: float | None) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool):
            return False
        if self.integer and value != int(value):
            return False
        if self.ge is not None and not value >= self.ge:
            return False
        if self.gt is not None and not value > self.gt:
            return False
        return self.le is None or value <= self.le

    def describe(self) -> str:
        parts = [
            f">= {self.ge}" if self.ge is not None else "",
            f"> {self.gt}" if self.gt is not None else "",
        ]
        parts.append(f"<= {self.le}" if self.le is not None else "")
        text = (" and ".join(p for p in parts if p)) or "any number"
        text = f"a whole number {text}" if self.integer else text
        return f"{text}, or unset" if self.optional else text


TENANT_BOUNDS: Mapping[str, Bound] = {
    "weight": Bound(gt=0),
    "max_concurrency": Bound(ge=1, integer=True),
    "max_queued": Bound(ge=1, integer=True),
    "daily_bytes_budget": Bound(ge=1, integer=True, optional=True),
    "priority_levels": Bound(ge=1, le=10, integer=True),
    "aging_seconds": Bound(gt=0, optional=True),
    # A boost of 9 lifts the lowest of 10 levels to the highest.
    "max_aging_boost": Bound(ge=0, le=9, integer=True),
    "bytes_scanned_cutoff_per_query": Bound(ge=MIN_BYTES_SCANNED_CUTOFF, integer=True),
}
