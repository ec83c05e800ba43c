"""Athena's JSON 1.1 wire protocol: `X-Amz-Target: AmazonAthena.<Operation>`, JSON bodies, typed errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.errors import AthenaApiError
from fairshare_athena_emulator.iam import Caller

LOG = logging.getLogger(__name__)

TARGET_PREFIX = "AmazonAthena."
CONTENT_TYPE = "application/x-amz-json-1.1"

Operation = Callable[[AthenaEngine, Mapping[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Operation] = {
    "CreateWorkGroup": AthenaEngine.create_work_group,
    "GetWorkGroup": AthenaEngine.get_work_group,
    "UpdateWorkGroup": AthenaEngine.update_work_group,
    "DeleteWorkGroup": AthenaEngine.delete_work_group,
    "ListWorkGroups": AthenaEngine.list_work_groups,
    "TagResource": AthenaEngine.tag_resource,
    "UntagResource": AthenaEngine.untag_resource,
    "ListTagsForResource": AthenaEngine.list_tags_for_resource,
    "StartQueryExecution": AthenaEngine.start_query_execution,
    "GetQueryExecution": AthenaEngine.get_query_execution,
    "BatchGetQueryExecution": AthenaEngine.batch_get_query_execution,
    "StopQueryExecution": AthenaEngine.stop_query_execution,
    "ListQueryExecutions": AthenaEngine.list_query_executions,
    "GetQueryResults": AthenaEngine.get_query_results,
    "GetQueryRuntimeStatistics": AthenaEngine.get_query_runtime_statistics,
}


# The one operation whose outcome depends on who calls (the caller's identity policies decide).
CALLER_OPERATION = "StartQueryExecution"


@dataclass(slots=True, frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _json_response(
    status: int, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> WireResponse:
    return WireResponse(
        status=status,
        headers={"Content-Type": CONTENT_TYPE, **(headers or {})},
        body=json.dumps(document).encode("utf-8"),
    )


def error_response(error: AthenaApiError) -> WireResponse:
    return _json_response(error.status, error.body(), {"X-Amzn-Errortype": error.code})


def invoke(
    engine: AthenaEngine, operation: str, params: Mapping[str, Any], caller: Caller | None = None
) -> WireResponse:
    """Run one operation whose request members are already decoded, for `caller` (None: the account's
    own credentials)."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        return error_response(
            AthenaApiError("UnknownOperationException", f"Operation {operation} is not emulated", status=501)
        )
    try:
        if operation == CALLER_OPERATION:
            return _json_response(200, engine.start_query_execution(params, caller))
        return _json_response(200, handler(engine, params))
    except AthenaApiError as exc:
        return error_response(exc)
    except Exception as exc:
        LOG.exception("Athena operation %s failed inside the emulator", operation)
        return error_response(
            AthenaApiError("InternalServerException", f"{type(exc).__name__}: {exc}", status=500)
        )


def handle(engine_for: Callable[[], AthenaEngine], target: str | None, body: bytes) -> WireResponse:
    """Serve one raw request: the X-Amz-Target header and the JSON body."""
    if not target or not target.startswith(TARGET_PREFIX):
        return error_response(AthenaApiError("UnknownOperationException", f"unexpected target {target!r}"))
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return error_response(AthenaApiError("SerializationException", "the request body is not JSON"))
    if not isinstance(params, dict):
        return error_response(
            AthenaApiError("SerializationException", "the request body must be a JSON object")
        )
    return invoke(engine_for(), target[len(TARGET_PREFIX) :], params)
