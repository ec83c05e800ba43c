"""Scenario files of the simulator: a workload, the account's quota pools and foreign load, as JSON.

A scenario is validated once, with pydantic; an error names the file, the field and what is wrong.
Pools reuse the platform's `PoolConfig`, so AIMD parameters read exactly as in the stage configuration.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Literal

from fairshare.config import PoolConfig
from fairshare.domain.model import PoolName, TenantPolicy
from fairshare.domain.tenant_rules import TENANT_NAME_PATTERN, valid_tenant_name
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ScenarioError(ValueError):
    """A scenario file is missing, not JSON, or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoissonArrivals(_Strict):
    kind: Literal["poisson"]
    rate_per_s: float = Field(..., gt=0)
    start_s: float = Field(0.0, ge=0)
    end_s: float = Field(..., gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> PoissonArrivals:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class BurstArrivals(_Strict):
    kind: Literal["burst"]
    at_s: float = Field(..., ge=0)
    count: int = Field(..., ge=1, le=1_000_000)


Arrivals = Annotated[PoissonArrivals | BurstArrivals, Field(discriminator="kind")]


class FixedDuration(_Strict):
    kind: Literal["fixed"]
    value: float = Field(..., gt=0)

    @property
    def mean(self) -> float:
        return self.value


class LognormalDuration(_Strict):
    kind: Literal["lognormal"]
    median: float = Field(..., gt=0)
    sigma: float = Field(..., ge=0, le=3)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


class ChoiceDuration(_Strict):
    """One of a few run times, by weight (the load generator's `--durations 2:1,5:1`)."""

    kind: Literal["choice"]
    values: list[tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]] = Field(
        ..., min_length=1
    )

    @property
    def mean(self) -> float:
        total = sum(weight for _, weight in self.values)
        return sum(value * weight for value, weight in self.values) / total


Duration = Annotated[FixedDuration | LognormalDuration | ChoiceDuration, Field(discriminator="kind")]


class ForeignLoad(_Strict):
    """Other users of the account: they keep up to `active` queries in the pool during [start_s, end_s)."""

    start_s: float = Field(..., ge=0)
    end_s: float = Field(..., gt=0)
    active: int = Field(..., ge=1)
    pool: PoolName = "DML"

    @model_validator(mode="after")
    def _ordered(self) -> ForeignLoad:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class TenantSpec(_Strict):
    weight: float = Field(1.0, gt=0)
    max_concurrency: int = Field(10, ge=1)
    max_queued: int = Field(1000, ge=1)
    arrivals: list[Arrivals] = Field(..., min_length=1)
    duration_s: Duration
    priorities: dict[str, float] = Field(default_factory=lambda: {"1": 1.0})
    ddl_fraction: float = Field(0.0, ge=0, le=1)
    priority_levels: int | None = Field(None, ge=1, le=10)
    aging_seconds: float | None = Field(None, gt=0)
    max_aging_boost: int = Field(1, ge=0, le=9)

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, priorities: dict[str, float]) -> dict[str, float]:
        if not priorities:
            raise ValueError("priorities must name at least one priority")
        for key, probability in priorities.items():
            if not key.isdigit() or not 0 <= int(key) <= 9:
                raise ValueError(f"priority {key!r} must be an integer within 0..9")
            if probability < 0:
                raise ValueError(f"probability of priority {key} must be >= 0, got {probability}")
        total = sum(priorities.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"priority probabilities must sum to 1, got {total:g}")
        return priorities

    @model_validator(mode="after")
    def _levels_hold_priorities(self) -> TenantSpec:
        highest = max(int(key) for key in self.priorities)
        if self.priority_levels is not None and highest >= self.priority_levels:
            raise ValueError(f"priority {highest} needs priority_levels > {highest}")
        return self

    def policy(self, name: str) -> TenantPolicy:
        levels = self.priority_levels or max(3, max(int(key) for key in self.priorities) + 1)
        return TenantPolicy(
            name=name,
            weight=self.weight,
            max_concurrency=self.max_concurrency,
            max_queued=self.max_queued,
            allow_ddl=self.ddl_fraction > 0,
            priority_levels=levels,
            aging_seconds=self.aging_seconds,
            max_aging_boost=self.max_aging_boost,
        )


class Scenario(_Strict):
    name: str = Field(..., min_length=1)
    seed: int = 0
    duration_s: float = Field(..., gt=0, le=86_400)
    event_delay_s: float = Field(0.5, ge=0, description="Athena completion to the dispatcher's event")
    tick_s: float = Field(60.0, gt=0, description="dispatcher tick; seed000's DLQ redrive period")
    submit_delay_s: float = Field(0.05, ge=0, description="submission to the dispatcher's wake-up")
    start_rate_per_s: float = Field(20.0, gt=0)
    start_burst: int = Field(80, ge=1)
    share_half_life_s: float = Field(3600.0, gt=0, description="half-life of fair share's service history")
    usage_period_s: float | None = Field(
        60.0, gt=0, description="Athena's usage sample (AWS/Usage ActiveQueryCount) period; null: none"
    )
    usage_delay_s: float = Field(
        30.0, ge=0, description="a usage sample's delay until the dispatcher sees it"
    )
    pools: dict[PoolName, PoolConfig]
    foreign_load: list[ForeignLoad] = Field(default_factory=list)
    tenants: dict[str, TenantSpec] = Field(..., min_length=1)

    @field_validator("pools")
    @classmethod
    def _dml_declared(cls, pools: dict[PoolName, PoolConfig]) -> dict[PoolName, PoolConfig]:
        if "DML" not in pools:
            raise ValueError("pools must declare DML")
        if "DDL" not in pools:
            pools = {**pools, "DDL": PoolConfig.model_validate({"quota": 20})}
        return pools

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, tenants: dict[str, TenantSpec]) -> dict[str, TenantSpec]:
        # the platform's own rule: a scenario's tenants run through the platform's configuration
        for name in tenants:
            if not valid_tenant_name(name):
                raise ValueError(f"tenant name {name!r} must match {TENANT_NAME_PATTERN}")
        return tenants

    def limit(self, pool: PoolName) -> int:
        """The platform's configured limit of a pool: quota minus headroom (AIMD's ceiling)."""
        config = self.pools[pool]
        return config.quota - config.headroom

    def foreign_demand(self, pool: PoolName, at: float) -> int:
        return sum(
            load.active for load in self.foreign_load if load.pool == pool and load.start_s <= at < load.end_s
        )


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(document)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_scenario(document: object, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(f"{source} is not a valid scenario:\n{_format_errors(exc)}") from None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror or exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_scenario(document, str(path))
