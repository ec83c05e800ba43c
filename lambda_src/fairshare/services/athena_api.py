"""The Athena-compatible endpoint: Athena's own API, answered by the platform (docs/CONTRACTS.md).

A request is authenticated by its SigV4 signature (the tenant's API key id is the access key id, its value
the secret), limited by the key's usage plan like the REST route, then translated: StartQueryExecution
enters the tenant's queue through the same submission service as `POST /queries`; the reads are answered
from the ledger (client polling never reaches Athena's GetQueryExecution); results and the catalog pass
through to Athena, limited to the tenant's query and databases (I-4).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from fairshare.domain import errors
from fairshare.domain.ratelimit import TokenBucket
from fairshare.ports import ApiKeys, AthenaCallError, AthenaCatalog, PerTenant, QueryRecord, QueryStatus
from fairshare.services import queries
from fairshare.services.athena_protocol import (
    CONTENT_TYPE,
    TARGET_HEADER,
    AthenaApiError,
    error_body,
    invalid_request,
    operation_for,
    parse_input,
    serialize_output,
    service_model,
)
from fairshare.services.deps import Deps
from fairshare.services.sigv4 import SignedRequest, read_authorization, unrecognized, verify
from fairshare.services.submission import Submission, submit

logger = Logger(child=True)
service_model()  # botocore's Athena model is read at import (the api function's init), not on a request

SERVICE = "athena"
CATALOG = "AwsDataCatalog"
ENGINE_VERSION = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}
RESULTS_PAGE_MAX = 1000
LIST_PAGE_MAX = 50
# who submitted: the access key id whose signature the platform verified (the tenant's key, not a person)
SUBMITTER_SOURCE = "sigv4"
MAX_REQUEST_BYTES = 400_000  # a 262,144-character QueryString (Athena's limit) with JSON escaping

# Athena's states: the platform's QUEUED and ADMITTED (claimed, not yet started) are both Athena's QUEUED.
ATHENA_STATE = {
    QueryStatus.QUEUED: "QUEUED",
    QueryStatus.ADMITTED: "QUEUED",
    QueryStatus.RUNNING: "RUNNING",
    QueryStatus.SUCCEEDED: "SUCCEEDED",
    QueryStatus.FAILED: "FAILED",
    QueryStatus.CANCELLED: "CANCELLED",
}
# AthenaError.ErrorCategory: 1 system, 2 user, 3 other
_ERROR_CATEGORY = {"transient": 1, "permanent": 2, "athena": 2}


class Caller:
    """Who called: the tenant and the API key id that signed the request."""

    __slots__ = ("key_id", "tenant")

    def __init__(self, tenant: str, key_id: str) -> None:
        self.tenant = tenant
        self.key_id = key_id


# --- the entry point ------------------------------------------------------------------------------
def handle(
    deps: Deps, keys: ApiKeys, catalog: PerTenant[AthenaCatalog], event: Mapping[str, Any]
) -> dict[str, Any]:
    """One API Gateway proxy event in, one proxy response out; every failure in Athena's error shape."""
    try:
        if len(str(event.get("body") or "")) > MAX_REQUEST_BYTES:
            raise invalid_request(f"the request body exceeds {MAX_REQUEST_BYTES} bytes")
        request = signed_request(event)
        caller = authenticate(deps, keys, request)
        operation = operation_for(_first(request.headers, TARGET_HEADER))
        params = parse_input(operation, request.body.decode("utf-8"))
        # I-4: results and catalog calls are made as the caller's tenant (its execution role)
        reply = operation_named(operation.name)(deps, catalog.as_tenant(caller.tenant), caller, params)
        return _response(200, serialize_output(operation, reply))
    except AthenaApiError as exc:
        return _error(exc)
    except errors.FairshareError as exc:
        return _error(_from_domain(exc))
    except AthenaCallError as exc:
        return _error(_from_athena(exc))
    except Exception:
        logger.exception("unexpected error on the Athena endpoint")
        return _error(AthenaApiError("InternalServerException", "internal error", status=500))


def signed_request(event: Mapping[str, Any]) -> SignedRequest:
    """The request as the client signed it. API Gateway passes the resource path without the stage;
    the client signed the whole path of its URL, which `requestContext.path` holds (stage included, or
    a custom domain's base path). LocalStack's gateway paths are tried last."""
    headers: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {}
    for name, values in (multi or {k: [v] for k, v in (event.get("headers") or {}).items()}).items():
        headers.setdefault(str(name).lower(), []).extend(str(v) for v in values or ())
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (binascii.Error, ValueError):
        raise AthenaApiError("SerializationException", "the request body is not valid base64") from None
    context = event.get("requestContext") or {}
    path = str(event.get("path") or "/")
    stage = str(context.get("stage") or "")
    api_id = str(context.get("apiId") or "")
    candidates = [
        str(context.get("path") or ""),
        f"/{stage}{path}",
        path,
        f"/_aws/execute-api/{api_id}/{stage}{path}",
        f"/restapis/{api_id}/{stage}/_user_request_{path}",
    ]
    paths = list(dict.fromkeys(p for p in candidates if p.startswith("/")))
    query = {
        str(k): [str(v) for v in vs] for k, vs in (event.get("multiValueQueryStringParameters") or {}).items()
    }
    return SignedRequest(
        method=str(event.get("httpMethod") or "POST"), paths=paths, query=query, headers=headers, body=raw
    )


def authenticate(deps: Deps, keys: ApiKeys, request: SignedRequest) -> Caller:
    """The tenant whose API key signed the request; revoked keys and rate limits as on the REST route."""
    auth = read_authorization(request)
    tenant = deps.config.tenant_for_api_key(auth.access_key_id)
    credential = keys.lookup(auth.access_key_id) if tenant else None
    if tenant is None or credential is None or not credential.enabled or not credential.secret:
        raise unrecognized()
    verify(request, auth, credential.secret, region=deps.config.region, service=SERVICE, now=deps.clock.now())
    if credential.rate_per_s is not None:
        THROTTLE.take(tenant, credential.rate_per_s, credential.burst or 1, deps.clock.now())
    return Caller(tenant, auth.access_key_id)


class TenantThrottle:
    """The usage plan's rate and burst for the Athena route, one token bucket per tenant in each
    execution environment (API Gateway applies usage plans only to methods that take an API key)."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, tenant: str, rate_per_s: float, burst: int, now: float) -> None:
        with self._lock:
            bucket = self._buckets.get(tenant)
            if bucket is None or (bucket.rate_per_s, bucket.burst) != (rate_per_s, burst):
                bucket = TokenBucket.full(rate_per_s, burst, now)
            if bucket.available(now) < 1:
                self._buckets[tenant] = bucket.refill(now)
                raise AthenaApiError("ThrottlingException", "Rate exceeded")
            self._buckets[tenant] = bucket.take(1, now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


THROTTLE = TenantThrottle()


# --- operations -----------------------------------------------------------------------------------
Operation = Callable[[Deps, AthenaCatalog, Caller, dict[str, Any]], dict[str, Any]]


def start_query_execution(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    context = params.get("QueryExecutionContext") or {}
    _check_catalog(context.get("Catalog"))
    if params.get("ExecutionParameters"):
        raise invalid_request("ExecutionParameters are not supported through the platform; inline the values")
    # WorkGroup and ResultConfiguration are the tenant's workgroup's, whatever the request names (I-4).
    submission = Submission(
        sql=params["QueryString"],
        database=context.get("Database"),
        client_token=params.get("ClientRequestToken"),
        submitted_by=caller.key_id,
        submitted_by_source=SUBMITTER_SOURCE,
    )
    outcome = submit(deps, caller.tenant, submission)
    return {"QueryExecutionId": outcome.record.query_id}


def get_query_execution(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    return {"QueryExecution": query_execution(_own(deps, caller, params["QueryExecutionId"]), deps.now_ms())}


def batch_get_query_execution(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    ids = list(dict.fromkeys(params["QueryExecutionIds"]))
    records = deps.side_by_side([functools.partial(deps.ledger.get, query_id) for query_id in ids])
    now_ms = deps.now_ms()
    found, unprocessed = [], []
    for query_id, record in zip(ids, records, strict=True):
        if record is None or record.tenant != caller.tenant:
            unprocessed.append(
                {
                    "QueryExecutionId": query_id,
                    "ErrorCode": "INVALID_INPUT",
                    "ErrorMessage": _not_found(query_id),
                }
            )
        else:
            found.append(query_execution(record, now_ms))
    return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed}


def get_query_results(
    deps: Deps, catalog: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    record = _own(deps, caller, params["QueryExecutionId"])
    if record.status != QueryStatus.SUCCEEDED or not record.athena_execution_id:
        if record.terminal:
            raise invalid_request(f"Query did not finish successfully. Final query state: {record.status}")
        raise invalid_request(
            f"Query has not yet finished. Current state: {ATHENA_STATE[QueryStatus(record.status)]}"
        )
    max_results = int(params.get("MaxResults") or RESULTS_PAGE_MAX)
    return catalog.query_results(record.athena_execution_id, params.get("NextToken"), max_results)


def stop_query_execution(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    query_id = _own(deps, caller, params["QueryExecutionId"]).query_id
    with contextlib.suppress(errors.Conflict):  # Athena answers a stop of a finished query with success
        queries.cancel(deps, caller.tenant, query_id)
    return {}


def list_query_executions(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    if params.get("WorkGroup") not in (None, _workgroup(deps, caller)):
        raise invalid_request(f"WorkGroup {params['WorkGroup']} is not found.")
    limit = min(int(params.get("MaxResults") or LIST_PAGE_MAX), LIST_PAGE_MAX)
    token = params.get("NextToken")
    start_key = queries.decode_page_token(caller.tenant, token) if token else None
    page = deps.ledger.list_for_tenant(caller.tenant, None, limit, start_key)
    reply: dict[str, Any] = {"QueryExecutionIds": [r.query_id for r in page.records]}
    if page.last_key:
        reply["NextToken"] = queries.encode_page_token(caller.tenant, page.last_key)
    return reply


def get_work_group(deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    if params["WorkGroup"] != _workgroup(deps, caller):
        raise invalid_request(f"WorkGroup {params['WorkGroup']} is not found.")
    config = deps.config
    tenant = config.tenants[caller.tenant]
    return {
        "WorkGroup": {
            "Name": tenant.workgroup,
            "State": "ENABLED",
            "Description": f"Workgroup of tenant {caller.tenant}, admitted by the fair-share platform",
            "Configuration": {
                "ResultConfiguration": {
                    "OutputLocation": f"s3://{config.results_bucket}/{config.results_prefix}{caller.tenant}/"
                },
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": tenant.bytes_scanned_cutoff_per_query,
                "RequesterPaysEnabled": False,
                "EngineVersion": ENGINE_VERSION,
            },
        }
    }


def list_work_groups(deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "WorkGroups": [
            {
                "Name": _workgroup(deps, caller),
                "State": "ENABLED",
                "Description": f"Workgroup of tenant {caller.tenant}",
                "EngineVersion": ENGINE_VERSION,
            }
        ]
    }


def list_data_catalogs(
    deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    return {"DataCatalogsSummary": [{"CatalogName": CATALOG, "Type": "GLUE"}]}


def list_databases(
    deps: Deps, catalog: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_catalog(params["CatalogName"])
    names = sorted(deps.config.tenants[caller.tenant].databases)
    offset = _offset(params.get("NextToken"), len(names))
    limit = int(params.get("MaxResults") or len(names) or 1)
    page = names[offset : offset + limit]
    found = deps.side_by_side([functools.partial(_database_or_none, catalog, name) for name in page])
    reply: dict[str, Any] = {"DatabaseList": [d for d in found if d is not None]}
    if offset + limit < len(names):
        reply["NextToken"] = str(offset + limit)
    return reply


def get_database(
    deps: Deps, catalog: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_catalog(params["CatalogName"])
    _own_database(deps, caller, params["DatabaseName"])
    return catalog.catalog_call(
        "GetDatabase", {"CatalogName": CATALOG, "DatabaseName": params["DatabaseName"]}
    )


def list_table_metadata(
    deps: Deps, catalog: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_catalog(params["CatalogName"])
    _own_database(deps, caller, params["DatabaseName"])
    passed = {
        k: v
        for k, v in params.items()
        if k in ("CatalogName", "DatabaseName", "Expression", "NextToken", "MaxResults")
    }
    return catalog.catalog_call("ListTableMetadata", passed)


def get_table_metadata(
    deps: Deps, catalog: AthenaCatalog, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_catalog(params["CatalogName"])
    _own_database(deps, caller, params["DatabaseName"])
    passed = {k: v for k, v in params.items() if k in ("CatalogName", "DatabaseName", "TableName")}
    return catalog.catalog_call("GetTableMetadata", passed)


OPERATIONS: dict[str, Operation] = {
    "StartQueryExecution": start_query_execution,
    "GetQueryExecution": get_query_execution,
    "BatchGetQueryExecution": batch_get_query_execution,
    "GetQueryResults": get_query_results,
    "StopQueryExecution": stop_query_execution,
    "ListQueryExecutions": list_query_executions,
    "GetWorkGroup": get_work_group,
    "ListWorkGroups": list_work_groups,
    "ListDataCatalogs": list_data_catalogs,
    "ListDatabases": list_databases,
    "GetDatabase": get_database,
    "ListTableMetadata": list_table_metadata,
    "GetTableMetadata": get_table_metadata,
}


def operation_named(name: str) -> Operation:
    """The platform's answer to an operation of Athena's model; any other one is refused in Athena's shape."""
    return OPERATIONS.get(name) or _not_supported(name)


def _not_supported(name: str) -> Operation:
    def refuse(deps: Deps, _: AthenaCatalog, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
        raise invalid_request(f"{name} is not available through the fair-share platform")

    return refuse


# --- the ledger's query as Athena's QueryExecution --------------------------------------------------
def query_execution(record: QueryRecord, now_ms: int) -> dict[str, Any]:
    status = QueryStatus(record.status)
    end_ms = record.finished_at if record.terminal and record.finished_at is not None else now_ms
    queued_until = record.admitted_at if record.admitted_at is not None else end_ms
    athena_status: dict[str, Any] = {
        "State": ATHENA_STATE[status],
        "SubmissionDateTime": _time(record.submitted_at),
    }
    if record.terminal and record.finished_at is not None:
        athena_status["CompletionDateTime"] = _time(record.finished_at)
    if status == QueryStatus.FAILED:
        message = record.error_message or record.error_code or "query failed"
        athena_status["StateChangeReason"] = message
        code = record.error_code or ""
        athena_status["AthenaError"] = {
            "ErrorCategory": _ERROR_CATEGORY.get(record.error_kind or "", 3),
            "Retryable": record.error_kind == "transient",
            "ErrorMessage": message,
            **({"ErrorType": int(code)} if code.isdigit() else {}),
        }
    elif status == QueryStatus.CANCELLED and record.error_message:
        athena_status["StateChangeReason"] = record.error_message
    statistics: dict[str, Any] = {
        # the platform's queue, then Athena's own
        "QueryQueueTimeInMillis": max(0, queued_until - record.submitted_at) + (record.athena_queue_ms or 0),
        "TotalExecutionTimeInMillis": max(0, end_ms - record.submitted_at),
        "EngineExecutionTimeInMillis": record.engine_ms or 0,
        "DataScannedInBytes": record.bytes_scanned or 0,
    }
    execution: dict[str, Any] = {
        "QueryExecutionId": record.query_id,
        "Query": record.sql,
        "StatementType": "DDL" if record.statement_class == "DDL" else "DML",
        "QueryExecutionContext": {"Database": record.database, "Catalog": CATALOG},
        "Status": athena_status,
        "Statistics": statistics,
        "WorkGroup": record.workgroup,
        "EngineVersion": ENGINE_VERSION,
        "ResultConfiguration": {"OutputLocation": record.output_location} if record.output_location else {},
    }
    return execution


# --- helpers --------------------------------------------------------------------------------------
def _own(deps: Deps, caller: Caller, query_id: str) -> QueryRecord:
    # I-4: another tenant's id is answered exactly as an unknown one
    try:
        return queries.load_own(deps, caller.tenant, query_id)
    except errors.NotFound:
        raise invalid_request(_not_found(query_id)) from None


def _not_found(query_id: str) -> str:
    return f"QueryExecution {query_id} was not found"


def _workgroup(deps: Deps, caller: Caller) -> str:
    return deps.config.tenants[caller.tenant].workgroup


def _check_catalog(name: str | None) -> None:
    if name is not None and name.lower() != CATALOG.lower():  # Athena reads catalog names in any case
        raise invalid_request(f"Catalog {name} is not found; the platform serves {CATALOG}")


def _own_database(deps: Deps, caller: Caller, name: str) -> None:
    if name not in deps.config.tenants[caller.tenant].databases:
        raise AthenaApiError("MetadataException", entity_not_found(f"Database {name} not found."))


def entity_not_found(message: str) -> str:
    """Athena's MetadataException for what Glue does not hold, in the envelope clients parse (PyAthena's
    reflection reads `Error Code: EntityNotFoundException` as "no such table")."""
    return (
        f"{message} (Service: AmazonDataCatalog; Status Code: 400; Error Code: EntityNotFoundException; "
        "Request ID: none; Proxy: null)"
    )


def _database_or_none(catalog: AthenaCatalog, name: str) -> dict[str, Any] | None:
    try:
        reply = catalog.catalog_call("GetDatabase", {"CatalogName": CATALOG, "DatabaseName": name})
    except AthenaCallError as exc:
        if exc.code == "MetadataException":
            return None  # configured for the tenant, not (yet) in the catalog
        raise
    database = reply.get("Database")
    return dict(database) if isinstance(database, dict) else None


def _offset(token: str | None, size: int) -> int:
    if token is None:
        return 0
    if not token.isdigit() or int(token) > size:
        raise invalid_request("NextToken is not valid")
    return int(token)


def _time(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _first(headers: Mapping[str, list[str]] | Mapping[str, Any], name: str) -> str | None:
    values = headers.get(name) or []
    return str(values[0]) if values else None


# --- errors: one place ----------------------------------------------------------------------------
def _from_domain(exc: errors.FairshareError) -> AthenaApiError:
    if isinstance(exc, errors.QueueFull):
        return AthenaApiError(
            "TooManyRequestsException", exc.message, Reason="CONCURRENT_QUERY_LIMIT_EXCEEDED"
        )
    if isinstance(exc, errors.Forbidden):
        return AthenaApiError("AccessDeniedException", exc.message)
    if isinstance(exc, errors.Unauthorized):
        return unrecognized(exc.message)
    if isinstance(exc, errors.DependencyUnavailable):
        logger.warning("dependency unavailable", extra={"error": exc.message})
        return AthenaApiError("InternalServerException", exc.message, status=500)
    if isinstance(exc, errors.Conflict):
        return invalid_request(f"Idempotent parameters do not match: {exc.message}")
    if isinstance(
        exc, errors.ValidationFailed | errors.NotFound | errors.BudgetExceeded | errors.PayloadTooLarge
    ):
        return invalid_request(exc.message)
    logger.warning("unmapped platform error", extra={"error": exc.message, "code": exc.code})
    return AthenaApiError("InternalServerException", exc.message, status=500)


def _from_athena(exc: AthenaCallError) -> AthenaApiError:
    """Athena's own answer to a call passed through (MetadataException, InvalidRequestException...)."""
    if exc.code in ("InvalidRequestException", "MetadataException", "ResourceNotFoundException"):
        return AthenaApiError(exc.code, exc.message)
    if exc.code in ("ThrottlingException", "TooManyRequestsException"):
        return AthenaApiError(exc.code, exc.message)
    logger.warning("Athena call failed", extra={"code": exc.code, "error": exc.message})
    return AthenaApiError("InternalServerException", f"Athena answered {exc.code}", status=500)


def _response(status: int, body: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": CONTENT_TYPE, **(headers or {})},
        "body": body,
        "isBase64Encoded": False,
    }


def _error(error: AthenaApiError) -> dict[str, Any]:
    return _response(error.status, error_body(error), {"x-amzn-ErrorType": error.type})
