"""The platform's one configuration object.

Terraform renders the whole document (stage, resource names, pools, tenants) once, as JSON, into an
S3 object of the stage (`FAIRSHARE_CONFIG_S3_URI`); every Lambda loads and validates it once at cold
start. Tests and tools may pass the same document inline in `FAIRSHARE_CONFIG`. Lambda environment
variables are capped at 4 KB, which a tenants map of a real stage outgrows, hence the S3 object.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairshare.domain.limits import LimitPolicy
from fairshare.domain.model import PoolName, SharePolicy, TenantPolicy
from fairshare.domain.service import ServiceDecay
from fairshare.domain.tenant_rules import (
    MIN_DATABASES,
    TENANT_BOUNDS,
    TENANT_NAME_PATTERN,
    BudgetAction,
    valid_tenant_name,
)

CONFIG_ENV = "FAIRSHARE_CONFIG"
CONFIG_S3_URI_ENV = "FAIRSHARE_CONFIG_S3_URI"

_B = TENANT_BOUNDS


class ConfigError(ValueError):
    """The configuration is missing or invalid; the message names what and where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(TenantPolicy) if f.name != "name")
# An IAM user or role, or an STS session, of one named account (globs only after the account).
PRINCIPAL_PATTERN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z*-]+/\S+$")


class TenantConfig(_Strict):
    """One tenant (team) as declared in the stage's `tenants` map."""

    # The bounds are fairshare.domain.tenant_rules, which Terraform's validations repeat (and a test checks).
    weight: float = Field(1.0, gt=_B["weight"].gt, description="share of the quota relative to other tenants")
    max_concurrency: int = Field(10, ge=_B["max_concurrency"].ge, description="hard cap on active queries")
    max_queued: int = Field(1000, ge=_B["max_queued"].ge, description="beyond it, submit answers 429")
    daily_bytes_budget: int | None = Field(
        None, ge=_B["daily_bytes_budget"].ge, description="bytes scanned per UTC day"
    )
    budget_action: BudgetAction = "hold"
    allow_ddl: bool = False
    priority_levels: int = Field(3, ge=_B["priority_levels"].ge, le=_B["priority_levels"].le)
    aging_seconds: float | None = Field(
        None, gt=_B["aging_seconds"].gt, description="a wait of W s raises priority by one"
    )
    max_aging_boost: int = Field(1, ge=_B["max_aging_boost"].ge, le=_B["max_aging_boost"].le)
    workgroup: str = Field(..., min_length=1, max_length=128)
    databases: tuple[str, ...] = Field(default=("default",), min_length=MIN_DATABASES)
    api_key_id: str | None = Field(None, description="API Gateway key id that identifies the tenant")
    execution_role_arn: str | None = Field(
        None,
        pattern=r"^arn:[a-z-]+:iam::[0-9]{12}:role/[\w+=,.@/-]+$",
        description="the tenant's execution role: every Athena call about its queries is made as it (I-4);"
        " null = the function's own credentials (tests)",
    )
    notify_topic_arn: str | None = None
    principals: tuple[str, ...] = Field(
        default=(),
        description="IAM principal ARN patterns (fnmatch globs) whose SigV4-signed calls act as this tenant",
    )
    bytes_scanned_cutoff_per_query: int = Field(
        10_737_418_240, ge=_B["bytes_scanned_cutoff_per_query"].ge, description="the workgroup's cutoff"
    )

    @field_validator("principals")
    @classmethod
    def _principal_patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if not PRINCIPAL_PATTERN.match(pattern):
                raise ValueError(
                    f"principal {pattern!r} must be an IAM or STS ARN pattern of one account, such as "
                    "arn:aws:iam::123456789012:role/analytics-* or arn:aws:sts::123456789012:assumed-role/r/*"
                )
        return patterns

    def policy(self, name: str) -> TenantPolicy:
        """The domain's policy: every TenantPolicy field but the name is this entry's field of that name."""
        return TenantPolicy(name=name, **{field: getattr(self, field) for field in _POLICY_FIELDS})


class PoolConfig(_Strict):
    """One Athena quota pool (DML or DDL) of the account and region."""

    quota: int = Field(..., ge=1, description="Athena's active-query quota for the pool")
    headroom: int = Field(0, ge=0, description="slots left to users outside the platform")
    min_limit: int = Field(1, ge=1, description="AIMD never lowers the effective limit below this")
    decrease_factor: float = Field(0.95, gt=0, lt=1, description="AIMD multiplicative decrease")
    recovery_interval_s: float = Field(5.0, gt=0, description="quiet time per +1 of the limit")

    @model_validator(mode="after")
    def _headroom_leaves_a_slot(self) -> PoolConfig:
        if self.quota - self.headroom < self.min_limit:
            raise ValueError(
                f"quota ({self.quota}) - headroom ({self.headroom}) must be >= min_limit ({self.min_limit})"
            )
        return self

    def limit_policy(self) -> LimitPolicy:
        return LimitPolicy(
            ceiling=self.quota - self.headroom,
            floor=self.min_limit,
            decrease_factor=self.decrease_factor,
            recovery_interval_s=self.recovery_interval_s,
        )


class Config(_Strict):
    """Everything a Lambda or tool needs to know about one stage."""

    stage: str = Field(..., pattern=r"^[a-z][a-z0-9-]{0,15}$")
    region: str = "us-east-1"
    queries_table: str
    state_table: str
    submissions_queue_url: str
    submissions_dlq_url: str
    events_queue_url: str
    events_dlq_url: str
    results_bucket: str
    results_prefix: str = "results/"
    pools: dict[PoolName, PoolConfig]
    tenants: dict[str, TenantConfig] = Field(..., min_length=1)
    start_rate_per_s: float = Field(20.0, gt=0, description="StartQueryExecution token bucket rate")
    start_burst: int = Field(80, ge=1, description="StartQueryExecution token bucket burst")
    event_grace_s: float = Field(120.0, ge=0, description="RUNNING this long without an event: poll")
    presign_expiry_s: int = Field(900, ge=1, le=604_800)
    results_page_size: int = Field(100, ge=1, le=1000)
    max_transient_attempts: int = Field(5, ge=1)
    redrive_max_per_run: int = Field(100, ge=1, description="DLQ messages moved per redrive run")
    redrive_rate_per_s: float = Field(10.0, gt=0, description="DLQ messages moved per second")
    query_ttl_days: int = Field(90, ge=1)
    share_policy: SharePolicy = Field(
        "fair_share", description="fair_share: by service received; weighted_fair: by running count (Trino)"
    )
    share_half_life_s: float = Field(3600.0, gt=0, description="half-life of the service history")
    powertools_service: str = "athena-fairshare"
    metrics_namespace: str = "AthenaFairshare"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("pools")
    @classmethod
    def _both_pools(cls, pools: dict[PoolName, PoolConfig]) -> dict[PoolName, PoolConfig]:
        missing = {"DML", "DDL"} - set(pools)
        if missing:
            raise ValueError(f"pools must declare DML and DDL; missing {sorted(missing)}")
        return pools

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, tenants: dict[str, TenantConfig]) -> dict[str, TenantConfig]:
        for name in tenants:
            if not valid_tenant_name(name):
                raise ValueError(f"tenant name {name!r} must match {TENANT_NAME_PATTERN}")
        keys = [t.api_key_id for t in tenants.values() if t.api_key_id]
        if len(keys) != len(set(keys)):
            raise ValueError("two tenants share one api_key_id")
        return tenants

    @cached_property
    def tenant_by_api_key(self) -> Mapping[str, str]:
        return {t.api_key_id: name for name, t in self.tenants.items() if t.api_key_id}

    @cached_property
    def decay(self) -> ServiceDecay:
        return ServiceDecay(self.share_half_life_s)

    @cached_property
    def policies(self) -> Mapping[str, TenantPolicy]:
        return {name: t.policy(name) for name, t in self.tenants.items()}

    def tenant_for_api_key(self, api_key_id: str | None) -> str | None:
        return self.tenant_by_api_key.get(api_key_id) if api_key_id else None

    def tenants_for_principal(self, arn: str) -> list[str]:
        """The tenants whose `principals` patterns match an IAM caller's ARN (more than one is a
        configuration the API refuses to guess about)."""
        return [
            name
            for name, t in self.tenants.items()
            if any(fnmatch.fnmatchcase(arn, pattern) for pattern in t.principals)
        ]


def parse_config(document: str | Mapping[str, Any], source: str = "configuration") -> Config:
    """Validate a configuration document; errors name the field and the source."""
    try:
        raw = json.loads(document) if isinstance(document, str) else dict(document)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from exc
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source} is invalid: {problems}") from exc


def load_config(environ: Mapping[str, str] | None = None, s3_client: Any = None) -> Config:
    """Load the stage configuration once (cold start): inline JSON, else the S3 object Terraform wrote."""
    env = os.environ if environ is None else environ
    inline = env.get(CONFIG_ENV)
    if inline:
        return parse_config(inline, source=f"${CONFIG_ENV}")
    uri = env.get(CONFIG_S3_URI_ENV)
    if not uri:
        raise ConfigError(
            f"missing environment variable {CONFIG_S3_URI_ENV} (or {CONFIG_ENV} with inline JSON)"
        )
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigError(f"{CONFIG_S3_URI_ENV} must look like s3://bucket/key, got {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return parse_config(body, source=uri)
