"""Athena through boto3, with every botocore error classified in one place (I-7, I-8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from fairshare.ports import (
    AthenaCallError,
    Execution,
    Permanent,
    QuotaThrottle,
    RateThrottle,
    ResultPage,
    Transient,
)

# botocore's standard mode retries TooManyRequestsException on its own; the dispatcher must see
# every quota throttle at once (I-7), so the client used for starts makes exactly one attempt.
# A round starts its admissions side by side, so the pool holds a connection for each of them.
START_CLIENT_CONFIG = BotoConfig(
    retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=32
)

_QUOTA = frozenset({"TooManyRequestsException"})
_RATE = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "RequestThrottled"}
)
_TRANSIENT = frozenset(
    {
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def classify(error: Exception) -> type[AthenaCallError]:
    """The one place that decides what an Athena error means: quota, rate, transient or permanent."""
    if isinstance(error, AthenaCallError):
        return type(error)
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _QUOTA:
            return QuotaThrottle
        if code in _RATE or status == 429:
            return RateThrottle
        if code in _TRANSIENT or status >= 500:
            return Transient
        return Permanent
    if isinstance(error, ConnectionError | ReadTimeoutError | BotoCoreError | TimeoutError | OSError):
        return Transient
    return Permanent


def wrap(error: Exception) -> AthenaCallError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
    else:
        code, message = type(error).__name__, str(error)
    return classify(error)(code, message)


def execution_from(raw: dict[str, Any]) -> Execution:
    status = raw.get("Status", {})
    stats = raw.get("Statistics", {})
    error = status.get("AthenaError") or {}
    reason = status.get("StateChangeReason")
    return Execution(
        execution_id=raw["QueryExecutionId"],
        state=status.get("State", "QUEUED"),
        workgroup=raw.get("WorkGroup"),
        bytes_scanned=int(stats.get("DataScannedInBytes", 0) or 0),
        engine_ms=int(stats.get("EngineExecutionTimeInMillis", 0) or 0),
        athena_queue_ms=int(stats.get("QueryQueueTimeInMillis", 0) or 0),
        error_code=(error.get("ErrorType") and str(error.get("ErrorType"))) or (reason and "ATHENA_ERROR"),
        error_message=error.get("ErrorMessage") or reason,
        output_location=raw.get("ResultConfiguration", {}).get("OutputLocation"),
    )


class BotoAthena:
    """Implements `fairshare.ports.Athena` and `AthenaCatalog`; give it a client with START_CLIENT_CONFIG."""

    def __init__(self, client: Any) -> None:
        self._athena = client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._athena, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise wrap(exc) from exc

    def start(self, query_id: str, sql: str, workgroup: str, database: str) -> str:
        reply = self._call(
            "start_query_execution",
            QueryString=sql,
            ClientRequestToken=query_id,  # I-3: the query id is the ClientRequestToken
            WorkGroup=workgroup,
            QueryExecutionContext={"Database": database},
        )
        return str(reply["QueryExecutionId"])

    def stop(self, execution_id: str) -> None:
        self._call("stop_query_execution", QueryExecutionId=execution_id)

    def get(self, execution_id: str) -> Execution:
        return execution_from(
            self._call("get_query_execution", QueryExecutionId=execution_id)["QueryExecution"]
        )

    def batch_get(self, execution_ids: Sequence[str]) -> list[Execution]:
        if len(execution_ids) > 50:
            raise ValueError("BatchGetQueryExecution takes at most 50 ids")
        if not execution_ids:
            return []
        reply = self._call("batch_get_query_execution", QueryExecutionIds=list(execution_ids))
        return [execution_from(raw) for raw in reply.get("QueryExecutions", [])]

    def results(self, execution_id: str, page_token: str | None, max_results: int) -> ResultPage:
        kwargs: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": max_results}
        if page_token:
            kwargs["NextToken"] = page_token
        reply = self._call("get_query_results", **kwargs)
        result_set = reply.get("ResultSet", {})
        columns = [
            (str(c.get("Name", "")), str(c.get("Type", "varchar")))
            for c in result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
        ]
        rows = [[d.get("VarCharValue") for d in row.get("Data", [])] for row in result_set.get("Rows", [])]
        # The first page of a SELECT repeats the column names as its first row.
        if not page_token and rows and [r or "" for r in rows[0]] == [name for name, _ in columns]:
            rows = rows[1:]
        return ResultPage(columns=columns, rows=rows, next_token=reply.get("NextToken"))

    # --- fairshare.ports.AthenaCatalog: the Athena-compatible endpoint's pass-through calls ------------
    def query_results(self, execution_id: str, page_token: str | None, max_results: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": max_results}
        if page_token:
            kwargs["NextToken"] = page_token
        reply = dict(self._call("get_query_results", **kwargs))
        reply.pop("ResponseMetadata", None)
        return reply

    def catalog_call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if operation not in CATALOG_OPERATIONS:
            raise ValueError(f"{operation} is not a catalog call")
        reply = dict(self._call(CATALOG_OPERATIONS[operation], **params))
        reply.pop("ResponseMetadata", None)
        return reply


CATALOG_OPERATIONS = {
    "ListDatabases": "list_databases",
    "GetDatabase": "get_database",
    "ListTableMetadata": "list_table_metadata",
    "GetTableMetadata": "get_table_metadata",
}
