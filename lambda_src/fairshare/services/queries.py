"""A tenant's reads and cancels: one query, its results, its list, its usage (I-4: own queries only)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from fairshare.domain.errors import Conflict, DependencyUnavailable, NotFound, ValidationFailed
from fairshare.domain.limits import whole_slots
from fairshare.domain.model import POOLS
from fairshare.ports import AthenaCallError, Permanent, QueryRecord, QueryStatus
from fairshare.services.deps import Deps
from fairshare.services.lifecycle import POSITION_CAP, Lifecycle

logger = Logger(child=True)

_ATHENA_TOKEN = re.compile(r"^[A-Za-z0-9+/=_\-.~%]{1,2048}$")


def load_own(deps: Deps, tenant: str, query_id: str) -> QueryRecord:
    """The tenant's query, or NotFound: another tenant's id looks exactly like an unknown one (I-4)."""
    record = deps.ledger.get(query_id)
    if record is None or record.tenant != tenant:
        raise NotFound(f"query {query_id} not found")
    return record


def describe(record: QueryRecord, position: int | None = None) -> dict[str, Any]:
    queued_ms = None
    if record.admitted_at is not None:
        queued_ms = record.admitted_at - record.submitted_at
    elif record.finished_at is not None:
        queued_ms = record.finished_at - record.submitted_at
    error = None
    if record.error_code or record.error_message:
        error = {"code": record.error_code or "ERROR", "message": record.error_message or ""}
    return {
        "query_id": record.query_id,
        "status": record.status,
        "priority": record.priority,
        "database": record.database,
        "statement_class": record.statement_class,
        "submitted_by": record.submitted_by,
        "submitted_by_source": record.submitted_by_source,
        "submitted_at": record.submitted_at,
        "position": position,
        "timings": {
            "queued_ms": queued_ms,
            "athena_queue_ms": record.athena_queue_ms,
            "engine_ms": record.engine_ms,
        },
        "bytes_scanned": record.bytes_scanned,
        "error": error,
        "athena_execution_id": record.athena_execution_id,
    }


def get_query(deps: Deps, tenant: str, query_id: str) -> dict[str, Any]:
    record = load_own(deps, tenant, query_id)
    position = deps.ledger.position(record, POSITION_CAP) if record.status == QueryStatus.QUEUED else None
    return describe(record, position)


def results(deps: Deps, tenant: str, query_id: str, page_token: str | None) -> dict[str, Any]:
    if page_token is not None and not _ATHENA_TOKEN.match(page_token):
        raise ValidationFailed("page_token is not valid")
    record = load_own(deps, tenant, query_id)
    if record.status != QueryStatus.SUCCEEDED or not record.athena_execution_id:
        raise Conflict(f"query is {record.status}; results exist only once it SUCCEEDED")
    config = deps.config
    expiry = config.presign_expiry_s
    download_url = None
    own_prefix = f"s3://{config.results_bucket}/{config.results_prefix}{tenant}/"
    location = record.output_location or ""
    if location.startswith(own_prefix) and ".." not in location:
        key = location[len(f"s3://{config.results_bucket}/") :]
        download_url = deps.results.as_tenant(tenant).presign_get(config.results_bucket, key, expiry)
    else:
        logger.warning("result outside the tenant's prefix; no link", extra={"query_id": query_id})
    try:
        page = deps.athena.as_tenant(tenant).results(
            record.athena_execution_id, page_token, config.results_page_size
        )
    except Permanent as exc:
        raise ValidationFailed(f"results unavailable: {exc.message}") from exc
    except AthenaCallError as exc:
        raise DependencyUnavailable(f"Athena GetQueryResults failed: {exc.code}") from exc
    return {
        "query_id": query_id,
        "download_url": download_url,
        "expires_in": expiry if download_url else None,
        "columns": [{"name": name, "type": kind} for name, kind in page.columns],
        "rows": [list(row) for row in page.rows],
        "next_page_token": page.next_token,
    }


def cancel(deps: Deps, tenant: str, query_id: str) -> dict[str, Any]:
    record = load_own(deps, tenant, query_id)
    if record.terminal:
        raise Conflict(f"query is already {record.status}")
    status = Lifecycle(deps).cancel(record)
    if status != QueryStatus.CANCELLED:
        raise Conflict(f"query is already {status}")
    return {"query_id": query_id, "status": QueryStatus.CANCELLED}


def encode_page_token(tenant: str, last_key: dict[str, Any]) -> str:
    raw = json.dumps({"t": tenant, "k": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(tenant: str, token: str) -> dict[str, Any]:
    """Validate a list token; one minted for another tenant is refused like a forged one (I-4)."""
    try:
        if len(token) > 1024:
            raise ValueError("too long")
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = raw["k"]
        if raw["t"] != tenant or set(raw) != {"t", "k"} or set(key) != {"query_id", "tenant", "submitted_at"}:
            raise ValueError("foreign or malformed token")
        if key["tenant"] != tenant or not isinstance(key["submitted_at"], int):
            raise ValueError("foreign or malformed key")
        uuid.UUID(str(key["query_id"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("page_token is not valid") from exc
    return dict(key)


def list_queries(
    deps: Deps, tenant: str, status: str | None, limit: int, page_token: str | None
) -> dict[str, Any]:
    start_key = decode_page_token(tenant, page_token) if page_token else None
    page = deps.ledger.list_for_tenant(tenant, status, limit, start_key)
    return {
        "queries": [describe(r) for r in page.records],
        "next_page_token": encode_page_token(tenant, page.last_key) if page.last_key else None,
    }


def usage(deps: Deps, tenant: str) -> dict[str, Any]:
    config = deps.config
    states = deps.ledger.tenants(list(config.tenants))
    pools = deps.ledger.pools(list(POOLS))
    total_running = sum(max(0, s.running) for s in states.values())
    own = states[tenant]
    limits: dict[str, int] = {}
    for name in POOLS:
        policy = config.pools[name].limit_policy()
        value = pools[name].limit_value
        limits[name] = whole_slots(value) if value is not None else policy.ceiling
    return {
        "tenant": tenant,
        "weight": config.tenants[tenant].weight,
        "running": own.running,
        "queued": own.queued,
        "share": round(own.running / total_running, 4) if total_running else 0.0,
        "bytes_today": own.bytes_on(deps.today()),
        "daily_bytes_budget": config.tenants[tenant].daily_bytes_budget,
        "effective_limit": limits,
    }
