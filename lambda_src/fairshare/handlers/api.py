"""The tenant API (API Gateway REST v1 proxy). The tenant is the caller's credential (I-4), never the
body: the API key, or on the `/iam/...` routes (AWS_IAM authorization) the SigV4-signed caller's ARN,
mapped to a tenant by its `principals` patterns."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from fairshare import wiring
from fairshare.domain import errors
from fairshare.services import athena_api, queries
from fairshare.services.submission import Submission, SubmitOutcome, submit

logger = Logger()
tracer = Tracer()
# The same routes again under /iam, where API Gateway authorizes with SigV4 (AWS_IAM) instead of API keys.
IAM_PREFIX = "/iam"
app = APIGatewayRestResolver(enable_validation=True, strip_prefixes=[IAM_PREFIX])
USER_HEADER = "x-fairshare-user"
MAX_USER_CHARS = 256

MAX_HEADER_BYTES = 10_240  # API Gateway's own limit for all headers of a request
MAX_BODY_BYTES = 400_000  # a 262,144-byte query plus JSON escaping; beyond it, 413 before parsing
ATHENA_RESOURCE = "/athena"  # Athena's own protocol (AWS JSON 1.1, SigV4): fairshare.services.athena_api


class UnsupportedMediaType(errors.FairshareError, code="unsupported_media_type"): ...


# The one mapping from errors to HTTP statuses.
STATUS_BY_ERROR: dict[type[errors.FairshareError], int] = {
    errors.ValidationFailed: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    errors.QueueFull: 429,
    errors.BudgetExceeded: 429,
    errors.DependencyUnavailable: 503,
}


def error_body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))


def _json(status: int, payload: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload))


def _error(status: int, code: str, message: str) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=error_body(code, message)
    )


# --- request models -------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SubmitRequest(_Body):
    sql: str
    database: str = Field(..., min_length=1, max_length=255)
    priority: int | None = None
    client_token: str | None = None
    output_format: Literal["csv"] = "csv"


class SeedSubmitRequest(_Body):
    userId: str = Field(..., min_length=1, max_length=256)  # the seed sample's field names
    queryId: str
    query: str


StatusFilter = Literal["QUEUED", "ADMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]


# --- identity and ids -----------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class Caller:
    tenant: str
    user: str | None  # who submits, as far as the credential tells (None: not said)
    user_source: str | None  # "iam": the SigV4-verified ARN; "declared": an API-key caller's own word


def _caller() -> Caller:
    event = app.current_event
    config = wiring.deps().config
    if str(event.resource).startswith(f"{IAM_PREFIX}/"):
        # AWS_IAM method: API Gateway has verified the signature and names the caller.
        arn = event.request_context.identity.user_arn
        if not arn:
            raise errors.Unauthorized("a SigV4-signed request is required on /iam routes")
        tenants = config.tenants_for_principal(arn)
        if len(tenants) != 1:
            raise errors.Forbidden(
                f"{arn} is mapped to {'no tenant' if not tenants else 'more than one tenant'}"
            )
        return Caller(tenants[0], arn, "iam")
    key_id = event.request_context.identity.api_key_id
    if not key_id:
        raise errors.Unauthorized("an API key is required")
    tenant = config.tenant_for_api_key(key_id)
    if tenant is None:
        raise errors.Forbidden("this API key is not registered with a tenant")
    user = _declared_user(event.headers)
    return Caller(tenant, user, "declared" if user else None)


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A request header by its lower-case name (API Gateway passes the client's spelling)."""
    return next((str(v) for k, v in (headers or {}).items() if str(k).lower() == name), None)


def _declared_user(headers: Mapping[str, str] | None) -> str | None:
    value = _header(headers, USER_HEADER)
    if value is None:
        return None
    user = value.strip()
    if not user or len(user) > MAX_USER_CHARS or not user.isprintable():
        raise errors.ValidationFailed(
            f"X-Fairshare-User must be 1-{MAX_USER_CHARS} printable characters (the submitting user)"
        )
    return user


def _tenant() -> str:
    return _caller().tenant


def _query_id(raw: str) -> str:
    try:
        parsed = uuid.UUID(raw)
    except (ValueError, TypeError):
        raise errors.ValidationFailed("query id must be a UUID") from None
    if str(parsed) != raw.lower():
        raise errors.ValidationFailed("query id must be a UUID in its canonical form")
    return str(parsed)


def _submitted(outcome: SubmitOutcome) -> Response[Any]:
    body = {
        "query_id": outcome.record.query_id,
        "status": outcome.record.status,
        "position": outcome.position,
    }
    return _json(202 if outcome.created else 200, body)


# --- routes ---------------------------------------------------------------------------------------
@app.post("/queries")
def post_query(request: Annotated[SubmitRequest, Body()]) -> Response[Any]:
    caller = _caller()
    submission = Submission(
        sql=request.sql,
        database=request.database,
        priority=request.priority,
        client_token=request.client_token,
        output_format=request.output_format,
        submitted_by=caller.user,
        submitted_by_source=caller.user_source,
    )
    return _submitted(submit(wiring.deps(), caller.tenant, submission))


@app.post("/athena/query")
def post_seed_query(request: Annotated[SeedSubmitRequest, Body()]) -> Response[Any]:
    caller = _caller()
    # the seed sample's userId is the caller's word, unless the credential names the caller itself
    verified = caller.user_source == "iam"
    submission = Submission(
        sql=request.query,
        database=None,
        client_token=request.queryId,
        submitted_by=caller.user if verified else request.userId,
        submitted_by_source="iam" if verified else "declared",
    )
    return _submitted(submit(wiring.deps(), caller.tenant, submission))


@app.get("/queries/<query_id>")
def get_query(query_id: str) -> Response[Any]:
    tenant = _tenant()
    return _json(200, queries.get_query(wiring.deps(), tenant, _query_id(query_id)))


@app.get("/queries/<query_id>/results")
def get_results(
    query_id: str, page_token: Annotated[str | None, Query(max_length=2048)] = None
) -> Response[Any]:
    tenant = _tenant()
    return _json(200, queries.results(wiring.deps(), tenant, _query_id(query_id), page_token))


@app.delete("/queries/<query_id>")
def delete_query(query_id: str) -> Response[Any]:
    tenant = _tenant()
    return _json(200, queries.cancel(wiring.deps(), tenant, _query_id(query_id)))


@app.get("/queries")
def list_queries(
    status: Annotated[StatusFilter | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[Any]:
    tenant = _tenant()
    return _json(200, queries.list_queries(wiring.deps(), tenant, status, limit, page_token))


@app.get("/usage")
def get_usage() -> Response[Any]:
    return _json(200, queries.usage(wiring.deps(), _tenant()))


# --- errors: one place ----------------------------------------------------------------------------
@app.exception_handler(errors.FairshareError)  # type: ignore[untyped-decorator]
def on_fairshare_error(exc: errors.FairshareError) -> Response[Any]:
    status = STATUS_BY_ERROR.get(type(exc), 500)
    if status >= 500:
        logger.warning("dependency unavailable", extra={"error": exc.message})
    return _error(status, exc.code if status != 500 else "internal_error", exc.message)


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def on_invalid_request(exc: RequestValidationError) -> Response[Any]:
    problems_found = list(exc.errors())
    if any(e.get("type") == "unsupported_content_type" for e in problems_found):
        return _error(415, UnsupportedMediaType.code, "Content-Type must be application/json")
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', 'invalid')}"
        for e in problems_found[:5]
    )
    return _error(400, errors.ValidationFailed.code, problems or "invalid request")


@app.not_found
def on_not_found(_: Exception) -> Response[Any]:
    return _error(404, errors.NotFound.code, "no such route")


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def on_unexpected(exc: Exception) -> Response[Any]:
    logger.exception("unexpected error")
    return _error(500, "internal_error", "internal error")


# --- checks API Gateway would make before the body reaches a route ------------------------------------
def reject_early(event: dict[str, Any]) -> dict[str, Any] | None:
    """Oversized headers or body, a body that is not UTF-8 text, or a non-JSON POST: refused at once."""
    headers = event.get("headers") or {}
    size = sum(len(str(k)) + len(str(v)) for k, v in headers.items())
    if size > MAX_HEADER_BYTES:
        return _proxy(400, errors.ValidationFailed.code, "request headers are too large")
    body = event.get("body")
    if body is not None:
        try:
            raw = (
                base64.b64decode(body, validate=True)
                if event.get("isBase64Encoded")
                else body.encode("utf-8")
            )
            if len(raw) > MAX_BODY_BYTES:
                return _proxy(
                    413, errors.PayloadTooLarge.code, f"request body exceeds {MAX_BODY_BYTES} bytes"
                )
            text = raw.decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            return _proxy(400, errors.ValidationFailed.code, "request body must be UTF-8 text")
        if event.get("isBase64Encoded"):
            event = {**event, "body": text, "isBase64Encoded": False}
    if str(event.get("httpMethod", "")).upper() in ("POST", "PUT", "PATCH"):
        content_type = _header(headers, "content-type") or ""
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return _proxy(415, UnsupportedMediaType.code, "Content-Type must be application/json")
        try:
            document = json.loads(event.get("body") or "")
        except ValueError:
            return _proxy(400, errors.ValidationFailed.code, "request body must be a JSON object")
        if not isinstance(document, dict):
            # a list would otherwise be read as its first element by the body validation
            return _proxy(400, errors.ValidationFailed.code, "request body must be a JSON object")
    return None


def _proxy(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@wiring.METRICS.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("resource") == ATHENA_RESOURCE:
        return athena_api.handle(wiring.deps(), wiring.api_keys(), wiring.catalog(), event)
    early = reject_early(event)
    if early is not None:
        return early
    if event.get("isBase64Encoded") and event.get("body") is not None:
        event = {**event, "body": base64.b64decode(event["body"]).decode("utf-8"), "isBase64Encoded": False}
    return app.resolve(event, context)
