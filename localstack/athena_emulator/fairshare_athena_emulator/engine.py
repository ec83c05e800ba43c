"""The emulated Athena of one account and region: workgroups, the active-query quota, query lifecycles.

Every public operation takes the request members and returns the response members of Athena's JSON API
(timestamps as epoch seconds). State lives under one lock; `run_due()` moves queries through their states
as the clock passes their deadlines, runs their SQL outside the lock, and publishes events and metrics.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from fairshare_athena_emulator import sqlrun
from fairshare_athena_emulator.catalog import TableSpec, parse_catalog, split_s3_uri
from fairshare_athena_emulator.errors import (
    AthenaApiError,
    invalid_request,
    resource_not_found,
    too_many_requests,
)
from fairshare_athena_emulator.iam import Caller, not_authorized, permitted
from fairshare_athena_emulator.ports import Clock, EventSink, MetricSink, ObjectStore
from fairshare_athena_emulator.settings import EmulatorSettings
from fairshare_athena_emulator.sqlrun import EMPTY_RESULT, Column, QueryFailed, ResultTable, TableRef
from fairshare_athena_emulator.statements import (
    NO_OP_KEYWORDS,
    Hints,
    Pool,
    first_keyword,
    parse_hints,
    pool_of,
    skeleton,
    statement_type_of,
)

LOG = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
PRIMARY = "primary"
MAX_QUERY_BYTES = 262_144
ENGINE_V3 = "Athena engine version 3"
_WORKGROUP_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
_NOT_FINISHED_ERROR = "Query has not yet finished. Current state: {state}"
CUTOFF_REASON = "Query exhausted bytes scanned limit. Bytes scanned: {scanned}. Limit: {limit}."
STATE_CHANGE_DETAIL_TYPE = "Athena Query State Change"
PUBLISHED_KEPT = 20_000


@dataclass(slots=True)
class Workgroup:
    name: str
    configuration: dict[str, Any]
    creation_time: float
    state: str = "ENABLED"
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def output_location(self) -> str | None:
        location = self.configuration.get("ResultConfiguration", {}).get("OutputLocation")
        return str(location) if location else None

    @property
    def enforced(self) -> bool:
        return bool(self.configuration.get("EnforceWorkGroupConfiguration", False))

    @property
    def cutoff(self) -> int | None:
        value = self.configuration.get("BytesScannedCutoffPerQuery")
        return int(value) if value is not None else None

    @property
    def publishes_metrics(self) -> bool:
        return bool(self.configuration.get("PublishCloudWatchMetricsEnabled", False))

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "Name": self.name,
            "State": self.state,
            "Configuration": json.loads(json.dumps(self.configuration)),
            "CreationTime": self.creation_time,
        }
        if self.description is not None:
            described["Description"] = self.description
        return described

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "Name": self.name,
            "State": self.state,
            "CreationTime": self.creation_time,
            "EngineVersion": dict(self.configuration["EngineVersion"]),
        }
        if self.description is not None:
            summary["Description"] = self.description
        return summary


@dataclass(slots=True)
class Execution:
    id: str
    sql: str
    pool: Pool
    statement_type: str
    workgroup: str
    database: str
    catalog: str
    output_location: str  # the result object: <OutputLocation>/<id>.csv
    result_configuration: dict[str, Any]
    token: str | None
    submitted_at: float
    queue_seconds: float
    run_seconds: float
    hints: Hints
    cutoff: int | None
    publish_metrics: bool
    engine_version: dict[str, str]
    execution_parameters: list[str] | None
    caller: Caller | None = None  # whose credentials the query runs with (None: the account's own)
    state: str = QUEUED
    state_reason: str | None = None
    running_at: float | None = None
    completed_at: float | None = None
    executed: bool = False
    bytes_scanned: int = 0
    result: ResultTable | None = None
    failure: QueryFailed | None = None
    event_sequence: int = 0

    def statistics(self, now: float) -> dict[str, Any]:
        end = self.completed_at if self.completed_at is not None else now
        queue_end = self.running_at if self.running_at is not None else end
        queue_ms = _ms(queue_end - self.submitted_at)
        engine_ms = _ms(end - self.running_at) if self.running_at is not None else 0
        stats: dict[str, Any] = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.bytes_scanned,
            "TotalExecutionTimeInMillis": _ms(end - self.submitted_at),
            "QueryQueueTimeInMillis": queue_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": min(engine_ms, 10),
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        return stats

    def athena_error(self) -> dict[str, Any] | None:
        if self.state != FAILED or self.failure is None:
            return None
        return {
            "ErrorCategory": self.failure.category,
            "ErrorType": self.failure.error_type,
            "Retryable": False,
            "ErrorMessage": self.failure.reason,
        }

    def describe(self, now: float) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted_at}
        if self.state_reason:
            status["StateChangeReason"] = self.state_reason
        if self.completed_at is not None:
            status["CompletionDateTime"] = self.completed_at
        if (error := self.athena_error()) is not None:
            status["AthenaError"] = error
        described: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.sql,
            "StatementType": self.statement_type,
            "ResultConfiguration": {**self.result_configuration, "OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": self.statistics(now),
            "WorkGroup": self.workgroup,
            "EngineVersion": dict(self.engine_version),
            "SubstatementType": first_keyword(self.sql),
        }
        if self.execution_parameters:
            described["ExecutionParameters"] = list(self.execution_parameters)
        return described


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise invalid_request("The NextToken is not valid.") from exc
    if not isinstance(offset, int) or offset < 0:
        raise invalid_request("The NextToken is not valid.")
    return offset


def _max_results(params: Mapping[str, Any], default: int, limit: int) -> int:
    value = params.get("MaxResults", default)
    if not isinstance(value, int) or not 1 <= value <= limit:
        raise invalid_request(f"MaxResults must be between 1 and {limit}, got {value!r}")
    return value


def _engine_version(requested: Mapping[str, Any] | None) -> dict[str, str]:
    selected = str((requested or {}).get("SelectedEngineVersion") or "AUTO")
    effective = ENGINE_V3 if selected == "AUTO" else selected
    return {"SelectedEngineVersion": selected, "EffectiveEngineVersion": effective}


class AthenaEngine:
    def __init__(
        self,
        account_id: str,
        region: str,
        settings: EmulatorSettings,
        clock: Clock,
        store: ObjectStore,
        events: EventSink,
        metrics: MetricSink,
        on_change: Callable[[], None] | None = None,
        run_in_background: Callable[[Callable[[], None]], object] | None = None,
        publish_in_order: Callable[[Callable[[], None]], Future[None]] | None = None,
        publish_metrics: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.settings = settings
        self._clock = clock
        self._store = store
        self._events = events
        self._metrics = metrics
        self._on_change = on_change or (lambda: None)
        self._throttled = {"DML": 0, "DDL": 0}  # starts refused with TooManyRequestsException
        # Where a query's SQL runs: a worker pool in the server, inline (deterministic) when None.
        self._run_in_background = run_in_background
        # Where events and metrics are delivered: one ordered background lane in the server, so slow
        # PutEvents calls never delay state changes; inline when None.
        self._publish_in_order = publish_in_order
        # Metrics go on a lane of their own, so a slow PutMetricData never holds back the next events.
        self._publish_metrics = publish_metrics
        self._random = random.Random(settings.seed)
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._workgroups: dict[str, Workgroup] = {}
        self._executions: dict[str, Execution] = {}
        self._order: list[str] = []  # execution ids, oldest first
        self._live: dict[str, Execution] = {}  # QUEUED or RUNNING
        self._by_token: dict[str, str] = {}
        self._outbox: list[dict[str, Any]] = []
        self._metric_outbox: list[dict[str, Any]] = []
        self._drain_scheduled = False
        self._drain_future: Future[None] | None = None
        self._last_usage_emit: float | None = None
        # When each terminal state-change event went onto the bus, for the refill path's breakdown.
        self._published: deque[dict[str, Any]] = deque(maxlen=PUBLISHED_KEPT)
        self._workgroups[PRIMARY] = Workgroup(
            name=PRIMARY,
            configuration=self._new_configuration({"PublishCloudWatchMetricsEnabled": True}),
            creation_time=clock.time(),
        )

    # ----------------------------------------------------------------------------------- introspection
    def active_counts(self) -> dict[str, int]:
        with self._lock:
            return self._active_counts_locked()

    def published_events(self) -> list[dict[str, Any]]:
        """Terminal state-change events delivered to EventBridge: execution id, state, epoch seconds."""
        with self._lock:
            return list(self._published)

    def throttled_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._throttled)

    def _active_counts_locked(self) -> dict[str, int]:
        counts = {"DML": 0, "DDL": 0}
        for execution in self._live.values():
            counts[execution.pool] += 1
        return counts

    def workgroup_arn(self, name: str) -> str:
        return f"arn:aws:athena:{self.region}:{self.account_id}:workgroup/{name}"

    # ----------------------------------------------------------------------------------- workgroups
    def _new_configuration(self, requested: Mapping[str, Any] | None) -> dict[str, Any]:
        configuration: dict[str, Any] = {
            "EnforceWorkGroupConfiguration": False,
            "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False,
        }
        configuration.update(json.loads(json.dumps(dict(requested or {}))))
        configuration["EngineVersion"] = _engine_version(configuration.get("EngineVersion"))
        self._check_cutoff(configuration.get("BytesScannedCutoffPerQuery"))
        return configuration

    @staticmethod
    def _check_cutoff(cutoff: Any) -> None:
        if cutoff is not None and (not isinstance(cutoff, int) or cutoff < 10_000_000):
            raise invalid_request("BytesScannedCutoffPerQuery must be at least 10000000 bytes")

    def _workgroup_locked(self, name: str | None) -> Workgroup:
        workgroup = self._workgroups.get(name or PRIMARY)
        if workgroup is None:
            raise invalid_request(f"WorkGroup {name} is not found.")
        return workgroup

    def create_work_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = str(params.get("Name", ""))
        if not _WORKGROUP_NAME.match(name):
            raise invalid_request(f"WorkGroup name {name!r} must match [a-zA-Z0-9._-]{{1,128}}")
        configuration = self._new_configuration(params.get("Configuration"))
        tags = {str(t["Key"]): str(t.get("Value", "")) for t in params.get("Tags", [])}
        with self._lock:
            if name in self._workgroups:
                raise invalid_request("WorkGroup is already created")
            self._workgroups[name] = Workgroup(
                name=name,
                configuration=configuration,
                creation_time=self._clock.time(),
                description=params.get("Description"),
                tags=tags,
            )
        return {}

    def get_work_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {"WorkGroup": self._workgroup_locked(params.get("WorkGroup")).describe()}

    def update_work_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        updates = json.loads(json.dumps(dict(params.get("ConfigurationUpdates") or {})))
        self._check_cutoff(updates.get("BytesScannedCutoffPerQuery"))
        with self._lock:
            workgroup = self._workgroup_locked(params.get("WorkGroup"))
            if "Description" in params:
                workgroup.description = params["Description"]
            if "State" in params:
                if params["State"] not in ("ENABLED", "DISABLED"):
                    raise invalid_request("State must be ENABLED or DISABLED")
                workgroup.state = params["State"]
            _apply_updates(workgroup.configuration, updates, nested_updates={"ResultConfigurationUpdates"})
            if "EngineVersion" in updates:
                workgroup.configuration["EngineVersion"] = _engine_version(updates["EngineVersion"])
        return {}

    def delete_work_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("WorkGroup")
        with self._lock:
            self._workgroup_locked(name)
            if name == PRIMARY:
                raise invalid_request("The primary workgroup cannot be deleted.")
            del self._workgroups[str(name)]
        return {}

    def list_work_groups(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = _max_results(params, 50, 50)
        offset = _decode_token(params.get("NextToken"))
        with self._lock:
            names = sorted(self._workgroups)
            page = [self._workgroups[n].summary() for n in names[offset : offset + limit]]
        answer: dict[str, Any] = {"WorkGroups": page}
        if offset + limit < len(names):
            answer["NextToken"] = _encode_token(offset + limit)
        return answer

    # ----------------------------------------------------------------------------------- tags
    def _workgroup_by_arn_locked(self, arn: str) -> Workgroup:
        prefix = f"arn:aws:athena:{self.region}:{self.account_id}:workgroup/"
        workgroup = self._workgroups.get(arn[len(prefix) :]) if arn.startswith(prefix) else None
        if workgroup is None:
            raise resource_not_found(f"Resource {arn} is not found.", arn)
        return workgroup

    def tag_resource(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            workgroup = self._workgroup_by_arn_locked(str(params.get("ResourceARN", "")))
            workgroup.tags.update({str(t["Key"]): str(t.get("Value", "")) for t in params.get("Tags", [])})
        return {}

    def untag_resource(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            workgroup = self._workgroup_by_arn_locked(str(params.get("ResourceARN", "")))
            for key in params.get("TagKeys", []):
                workgroup.tags.pop(str(key), None)
        return {}

    def list_tags_for_resource(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            workgroup = self._workgroup_by_arn_locked(str(params.get("ResourceARN", "")))
            tags = [{"Key": k, "Value": v} for k, v in sorted(workgroup.tags.items())]
        return {"Tags": tags}

    # ----------------------------------------------------------------------------------- queries
    def start_query_execution(
        self, params: Mapping[str, Any], caller: Caller | None = None
    ) -> dict[str, Any]:
        sql = params.get("QueryString")
        if not isinstance(sql, str) or not sql.strip():
            raise invalid_request("QueryString must not be empty", "INVALID_INPUT")
        if len(sql.encode("utf-8")) > MAX_QUERY_BYTES:
            raise invalid_request(f"QueryString is longer than {MAX_QUERY_BYTES} bytes", "INVALID_INPUT")
        token = params.get("ClientRequestToken")
        if token is not None and not 32 <= len(str(token)) <= 128:
            raise invalid_request("ClientRequestToken must be 32 to 128 characters long", "INVALID_INPUT")
        if not skeleton(sql):
            raise invalid_request("QueryString holds no statement", "INVALID_INPUT")
        pool = pool_of(sql)
        hints = parse_hints(sql)
        context = params.get("QueryExecutionContext") or {}
        with self._lock:
            # I-3 (platform): the same ClientRequestToken is the same execution, even when the pool is full.
            if token is not None and (known := self._by_token.get(str(token))) is not None:
                return {"QueryExecutionId": known}
            workgroup = self._workgroup_locked(params.get("WorkGroup"))
            workgroup_arn = self.workgroup_arn(workgroup.name)
            if not permitted(caller, "athena:StartQueryExecution", workgroup_arn):
                assert caller is not None
                raise AthenaApiError(
                    "AccessDeniedException",
                    not_authorized(caller, "athena:StartQueryExecution", workgroup_arn),
                )
            if workgroup.state != "ENABLED":
                raise invalid_request(f"WorkGroup {workgroup.name} is disabled.")
            output = self._output_location(workgroup, params.get("ResultConfiguration") or {})
            quota = self.settings.quota(pool)
            if self._active_counts_locked()[pool] >= quota:
                self._throttled[pool] += 1
                raise too_many_requests(pool, quota)
            execution_id = str(uuid.uuid4())
            now = self._clock.time()
            run_low, run_high = self.settings.run_seconds_min, self.settings.run_seconds_max
            execution = Execution(
                id=execution_id,
                sql=sql,
                pool=pool,
                statement_type=statement_type_of(sql),
                workgroup=workgroup.name,
                database=str(context.get("Database") or "default"),
                catalog=str(context.get("Catalog") or "AwsDataCatalog"),
                output_location=output.rstrip("/") + f"/{execution_id}.csv",
                result_configuration=self._result_configuration(workgroup, params.get("ResultConfiguration")),
                token=str(token) if token is not None else None,
                submitted_at=now,
                queue_seconds=hints.queue_seconds
                if hints.queue_seconds is not None
                else self.settings.queue_seconds,
                run_seconds=hints.run_seconds
                if hints.run_seconds is not None
                else self._random.uniform(run_low, run_high),
                hints=hints,
                cutoff=workgroup.cutoff,
                publish_metrics=workgroup.publishes_metrics,
                engine_version=dict(workgroup.configuration["EngineVersion"]),
                execution_parameters=params.get("ExecutionParameters"),
                caller=caller,
            )
            self._executions[execution_id] = execution
            self._order.append(execution_id)
            self._live[execution_id] = execution
            if execution.token is not None:
                self._by_token[execution.token] = execution_id
            self._record_event_locked(execution, previous=None)
        self._on_change()
        return {"QueryExecutionId": execution_id}

    @staticmethod
    def _output_location(workgroup: Workgroup, requested: Mapping[str, Any]) -> str:
        client_location = requested.get("OutputLocation")
        location: str | None = workgroup.output_location
        if client_location and not (workgroup.enforced and location):
            location = str(client_location)
        if not location:
            raise invalid_request(
                "No output location provided. An output location is required either through the Workgroup "
                "result configuration setting or as an API input."
            )
        try:
            split_s3_uri(str(location))
        except ValueError as exc:
            raise invalid_request(f"OutputLocation is not valid: {exc}") from exc
        return str(location)

    @staticmethod
    def _result_configuration(workgroup: Workgroup, requested: Mapping[str, Any] | None) -> dict[str, Any]:
        source = workgroup.configuration.get("ResultConfiguration", {}) if workgroup.enforced else requested
        return {k: v for k, v in (source or {}).items() if k != "OutputLocation"}

    def _execution_locked(self, execution_id: Any) -> Execution:
        execution = self._executions.get(str(execution_id))
        if execution is None:
            raise invalid_request(f"QueryExecution {execution_id} was not found", "INVALID_INPUT")
        return execution

    def get_query_execution(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            execution = self._execution_locked(params.get("QueryExecutionId"))
            return {"QueryExecution": execution.describe(self._clock.time())}

    def batch_get_query_execution(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ids = list(params.get("QueryExecutionIds") or [])
        if not 1 <= len(ids) <= 50:
            raise invalid_request("QueryExecutionIds must hold 1 to 50 ids", "INVALID_INPUT")
        found: list[dict[str, Any]] = []
        unprocessed: list[dict[str, Any]] = []
        with self._lock:
            now = self._clock.time()
            for execution_id in ids:
                execution = self._executions.get(str(execution_id))
                if execution is None:
                    unprocessed.append(
                        {
                            "QueryExecutionId": execution_id,
                            "ErrorCode": "INVALID_INPUT",
                            "ErrorMessage": f"QueryExecution {execution_id} was not found",
                        }
                    )
                else:
                    found.append(execution.describe(now))
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed}

    def stop_query_execution(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            execution = self._execution_locked(params.get("QueryExecutionId"))
            if execution.state not in TERMINAL:
                execution.state_reason = "Query cancelled by user"
                self._finish_locked(execution, CANCELLED, self._clock.time())
        self._on_change()
        return {}

    def list_query_executions(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = _max_results(params, 50, 50)
        offset = _decode_token(params.get("NextToken"))
        with self._lock:
            workgroup = self._workgroup_locked(params.get("WorkGroup"))
            ids = [i for i in reversed(self._order) if self._executions[i].workgroup == workgroup.name]
        answer: dict[str, Any] = {"QueryExecutionIds": ids[offset : offset + limit]}
        if offset + limit < len(ids):
            answer["NextToken"] = _encode_token(offset + limit)
        return answer

    def get_query_results(self, params: Mapping[str, Any]) -> dict[str, Any]:
        limit = _max_results(params, 1000, 1000)
        offset = _decode_token(params.get("NextToken"))
        with self._lock:
            execution = self._execution_locked(params.get("QueryExecutionId"))
            if execution.state in (QUEUED, RUNNING):
                raise invalid_request(_NOT_FINISHED_ERROR.format(state=execution.state), "INVALID_INPUT")
            if execution.state != SUCCEEDED or execution.result is None:
                raise invalid_request(execution.state_reason or f"Query {execution.state}", "INVALID_INPUT")
            result = execution.result
            with_header = execution.statement_type == "DML" and bool(result.columns)
        total = len(result.rows) + (1 if with_header else 0)
        rows: list[dict[str, Any]] = []
        for index in range(offset, min(offset + limit, total)):
            if with_header and index == 0:
                values: Sequence[str | None] = [c.name for c in result.columns]
            else:
                values = result.rows[index - (1 if with_header else 0)]
            rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in values]})
        answer: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {"ColumnInfo": [_column_info(c) for c in result.columns]},
            },
        }
        if offset + limit < total:
            answer["NextToken"] = _encode_token(offset + limit)
        return answer

    def get_query_runtime_statistics(self, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            execution = self._execution_locked(params.get("QueryExecutionId"))
            stats = execution.statistics(self._clock.time())
            result = execution.result
        statistics: dict[str, Any] = {
            "Timeline": {
                "QueryQueueTimeInMillis": stats["QueryQueueTimeInMillis"],
                "ServicePreProcessingTimeInMillis": stats["ServicePreProcessingTimeInMillis"],
                "QueryPlanningTimeInMillis": stats["QueryPlanningTimeInMillis"],
                "EngineExecutionTimeInMillis": stats["EngineExecutionTimeInMillis"],
                "ServiceProcessingTimeInMillis": stats["ServiceProcessingTimeInMillis"],
                "TotalExecutionTimeInMillis": stats["TotalExecutionTimeInMillis"],
            }
        }
        if result is not None:
            statistics["Rows"] = {
                "InputRows": len(result.rows),
                "InputBytes": stats["DataScannedInBytes"],
                "OutputBytes": len(result.to_csv()),
                "OutputRows": len(result.rows),
            }
        return {"QueryRuntimeStatistics": statistics}

    # ----------------------------------------------------------------------------------- lifecycle
    def run_due(self) -> float | None:
        """Advance every query whose deadline has passed; return the next deadline (epoch s) or None."""
        with self._tick_lock:
            now = self._clock.time()
            with self._lock:
                starting = [
                    e
                    for e in self._live.values()
                    if e.state == QUEUED and now >= e.submitted_at + e.queue_seconds
                ]
                for execution in starting:
                    execution.running_at = now
                    self._transition_locked(execution, RUNNING)
            for execution in starting:
                if self._run_in_background is None:
                    self._execute(execution)
                else:
                    self._run_in_background(partial(self._execute_then_wake, execution))
            now = self._clock.time()
            with self._lock:
                for execution in list(self._live.values()):
                    if execution.state != RUNNING or not execution.executed or execution.running_at is None:
                        continue
                    if now >= execution.running_at + execution.run_seconds:
                        terminal = FAILED if execution.failure is not None else SUCCEEDED
                        if execution.failure is not None:
                            execution.state_reason = execution.failure.reason
                        self._finish_locked(execution, terminal, now)
                self._usage_metrics_locked(now)
                next_deadline = self._next_deadline_locked()
                pending = bool(self._outbox or self._metric_outbox)
                # a cancelled drain (the lane was shut down) must not block deliveries for good
                lost = self._drain_future is not None and self._drain_future.cancelled()
                schedule_drain = (
                    pending and (not self._drain_scheduled or lost) and self._publish_in_order is not None
                )
                self._drain_scheduled = self._drain_scheduled or schedule_drain
            if self._publish_in_order is None:
                self._drain()
            elif schedule_drain:
                self._drain_future = self._publish_in_order(self._drain)
            return next_deadline

    def _drain(self) -> None:
        """Deliver everything decided so far, batched; one drain at a time keeps events in order."""
        with self._lock:
            events, self._outbox = self._outbox, []
            metric_data, self._metric_outbox = self._metric_outbox, []
            self._drain_scheduled = False
        if metric_data and self._publish_metrics is not None:
            self._publish_metrics(partial(self._publish, [], metric_data))
            metric_data = []
        if events or metric_data:
            self._publish(events, metric_data)

    def _next_deadline_locked(self) -> float | None:
        # A RUNNING query still executing has no deadline: its worker wakes the scheduler when done.
        deadlines = [
            e.submitted_at + e.queue_seconds if e.state == QUEUED else (e.running_at or 0) + e.run_seconds
            for e in self._live.values()
            if e.state == QUEUED or e.executed
        ]
        if self._live and self._last_usage_emit is not None:
            deadlines.append(self._last_usage_emit + self.settings.usage_metric_interval_seconds)
        return min(deadlines) if deadlines else None

    def _transition_locked(self, execution: Execution, state: str) -> None:
        previous = execution.state
        execution.state = state
        self._record_event_locked(execution, previous)

    def _finish_locked(self, execution: Execution, state: str, now: float) -> None:
        execution.completed_at = now
        self._live.pop(execution.id, None)
        self._transition_locked(execution, state)
        if execution.publish_metrics:
            self._metric_outbox.extend(_completion_metrics(execution, now))

    def _record_event_locked(self, execution: Execution, previous: str | None) -> None:
        execution.event_sequence += 1
        detail: dict[str, Any] = {
            "versionId": "0",
            "currentState": execution.state,
            "queryExecutionId": execution.id,
            "workgroupName": execution.workgroup,
            "statementType": execution.statement_type,
            "sequenceNumber": str(execution.event_sequence),
        }
        if previous is not None:
            detail["previousState"] = previous
        if (error := execution.athena_error()) is not None:
            detail["athenaError"] = {
                "errorCategory": float(error["ErrorCategory"]),
                "errorType": float(error["ErrorType"]),
                "errorMessage": error["ErrorMessage"],
                "retryable": error["Retryable"],
            }
        self._outbox.append(detail)

    def _usage_metrics_locked(self, now: float) -> None:
        counts = self._active_counts_locked()
        if not any(counts.values()):
            self._last_usage_emit = None
            return
        interval = self.settings.usage_metric_interval_seconds
        if self._last_usage_emit is not None and now < self._last_usage_emit + interval:
            return
        self._last_usage_emit = now
        for pool, count in counts.items():
            if count:
                self._metric_outbox.append(_usage_metric(pool, count, now))

    def _publish(self, events: list[dict[str, Any]], metric_data: list[dict[str, Any]]) -> None:
        if events and self.settings.events_enabled:
            entries = [
                {
                    "Source": "aws.athena",
                    "DetailType": STATE_CHANGE_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "Resources": [],
                }
                for detail in events
            ]
            try:
                self._events.put_events(entries)
            except Exception:  # Athena's events are best effort; a failed delivery is logged and dropped.
                LOG.exception("could not publish %d Athena state-change events", len(entries))
            else:
                at = self._clock.time()
                with self._lock:
                    self._published.extend(
                        {"id": d["queryExecutionId"], "state": d["currentState"], "at": at}
                        for d in events
                        if d["currentState"] in TERMINAL
                    )
        if metric_data and self.settings.metrics_enabled:
            by_namespace: dict[str, list[dict[str, Any]]] = {}
            for datum in metric_data:
                by_namespace.setdefault(datum.pop("_namespace"), []).append(datum)
            for namespace, data in by_namespace.items():
                try:
                    self._metrics.put_metric_data(namespace, data)
                except Exception:
                    LOG.exception("could not put %d metrics to %s", len(data), namespace)

    # ----------------------------------------------------------------------------------- execution
    def _execute_then_wake(self, execution: Execution) -> None:
        self._execute(execution)
        self._on_change()

    def _execute(self, execution: Execution) -> None:
        """Decide the outcome outside the lock: hints, table lookup, cutoff, DuckDB, result upload."""
        bytes_scanned = 0
        result: ResultTable | None = None
        failure: QueryFailed | None = None
        try:
            if execution.hints.fail_reason is not None:
                raise QueryFailed(execution.hints.fail_reason, sqlrun.ERROR_TYPE_HINTED)
            result, bytes_scanned = self._run_sql(execution)
            if execution.hints.scanned_bytes is not None:
                bytes_scanned = execution.hints.scanned_bytes
            if execution.cutoff is not None and bytes_scanned > execution.cutoff:
                result = None
                raise QueryFailed(
                    CUTOFF_REASON.format(scanned=bytes_scanned, limit=execution.cutoff),
                    sqlrun.ERROR_TYPE_CUTOFF,
                )
            self._write_result(execution, result)
        except QueryFailed as exc:
            failure = exc
        except Exception as exc:  # the emulator's own faults end the query, never the scheduler thread
            LOG.exception("query %s failed inside the emulator", execution.id)
            failure = QueryFailed(f"INTERNAL_ERROR_QUERY_ENGINE: {exc}", 1, category=1)
        with self._lock:
            execution.bytes_scanned = bytes_scanned
            execution.result = result if failure is None else None
            execution.failure = failure
            execution.executed = True

    def _run_sql(self, execution: Execution) -> tuple[ResultTable, int]:
        keyword = first_keyword(execution.sql)
        if keyword == "SHOW":
            return self._show(execution), 0
        if keyword in NO_OP_KEYWORDS:
            return EMPTY_RESULT, 0  # DDL and writes are accepted and change nothing
        refs = sqlrun.referenced_tables(execution.sql, execution.database)
        self._check_access(execution, refs)
        catalog = self._catalog()
        missing = [ref for ref in refs if ref.name not in catalog]
        if missing:
            raise QueryFailed(
                f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{missing[0].name}' does not exist",
                sqlrun.ERROR_TYPE_TABLE_NOT_FOUND,
            )
        listed = {ref: self._list_table(catalog[ref.name]) for ref in refs}
        bytes_scanned = sum(obj.size for _, objects in listed.values() for obj in objects)
        if execution.cutoff is not None and bytes_scanned > execution.cutoff:
            return EMPTY_RESULT, bytes_scanned  # the cutoff check in _execute fails the query
        with tempfile.TemporaryDirectory(prefix="athena-emulator-") as scratch:
            tables: dict[TableRef, tuple[TableSpec, list[Path]]] = {}
            for number, (ref, (bucket, objects)) in enumerate(listed.items()):
                spec = catalog[ref.name]
                if not objects:
                    raise QueryFailed(
                        f"HIVE_CANNOT_OPEN_SPLIT: table {ref.name} has no data objects under {spec.location}"
                    )
                files = []
                for index, obj in enumerate(objects):
                    suffix = {"csv": ".csv", "jsonl": ".json", "parquet": ".parquet"}[spec.format]
                    local = Path(scratch) / f"t{number}_{index}{suffix}"
                    local.write_bytes(self._store.get_object(bucket, obj.key))
                    files.append(local)
                tables[ref] = (spec, files)
            return sqlrun.run_query(execution.sql, execution.database, tables), bytes_scanned

    def _check_access(self, execution: Execution, refs: Sequence[TableRef]) -> None:
        """Athena reads each table's definition from Glue with the caller's credentials."""
        if execution.caller is None:
            return
        for ref in refs:
            arn = f"arn:aws:glue:{self.region}:{self.account_id}:table/{ref.database}/{ref.table}"
            if not permitted(execution.caller, "glue:GetTable", arn):
                raise QueryFailed(
                    "AccessDeniedException: Insufficient permissions to execute the query. "
                    + not_authorized(execution.caller, "glue:GetTable", arn),
                    sqlrun.ERROR_TYPE_ACCESS_DENIED,
                )

    def _list_table(self, spec: TableSpec) -> tuple[str, list[Any]]:
        bucket, prefix = spec.bucket_and_prefix
        objects = [
            obj
            for obj in self._store.list_objects(bucket, prefix)
            if not obj.key.endswith("/") and not obj.key.rsplit("/", 1)[-1].startswith(("_", "."))
        ]
        return bucket, objects

    def _catalog(self) -> dict[str, TableSpec]:
        catalog: dict[str, TableSpec] = {}
        if self.settings.catalog_s3_uri:
            bucket, key = split_s3_uri(self.settings.catalog_s3_uri)
            try:
                catalog.update(parse_catalog(self._store.get_object(bucket, key)))
            except Exception as exc:
                raise QueryFailed(
                    f"HIVE_METASTORE_ERROR: cannot read the registry {self.settings.catalog_s3_uri}: {exc}",
                    category=1,
                ) from exc
        catalog.update(self.settings.catalog)
        return catalog

    def _show(self, execution: Execution) -> ResultTable:
        words = skeleton(execution.sql).split()
        catalog = self._catalog()
        what = words[1].upper() if len(words) > 1 else ""
        if what in ("DATABASES", "SCHEMAS"):
            names = sorted({name.split(".", 1)[0] for name in catalog})
            return ResultTable((Column("database_name", "varchar", 2147483647),), tuple((n,) for n in names))
        if what == "TABLES":
            database = (
                words[3].strip('`"').lower()
                if len(words) > 3 and words[2].upper() in ("IN", "FROM")
                else None
            )
            database = database or execution.database.lower()
            names = sorted(n.split(".", 1)[1] for n in catalog if n.split(".", 1)[0] == database)
            return ResultTable((Column("tab_name", "varchar", 2147483647),), tuple((n,) for n in names))
        return EMPTY_RESULT

    def _write_result(self, execution: Execution, result: ResultTable) -> None:
        bucket, key = split_s3_uri(execution.output_location)
        metadata = {
            "columns": [
                {"name": c.name, "type": c.type, "precision": c.precision, "scale": c.scale}
                for c in result.columns
            ],
            "rowCount": len(result.rows),
        }
        try:
            self._store.put_object(bucket, key, result.to_csv(), "text/csv")
            self._store.put_object(
                bucket, key + ".metadata", json.dumps(metadata).encode(), "application/json"
            )
        except Exception as exc:
            raise QueryFailed(
                f"Unable to write the query result to {execution.output_location}: {exc}",
                sqlrun.ERROR_TYPE_OUTPUT,
            ) from exc


def _apply_updates(target: dict[str, Any], updates: Mapping[str, Any], nested_updates: set[str]) -> None:
    """UpdateWorkGroup's rule: `RemoveX: true` drops X, `XUpdates` merges into X, other members replace."""
    for key, value in updates.items():
        if key == "EngineVersion":
            continue
        if key in nested_updates:
            section = key[: -len("Updates")]
            nested = dict(target.get(section, {}))
            _apply_updates(nested, value, set())
            target[section] = nested
        elif key.startswith("Remove") and isinstance(value, bool):
            if value:
                target.pop(key[len("Remove") :], None)
        else:
            target[key] = value


def _column_info(column: Column) -> dict[str, Any]:
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": column.name,
        "Label": column.name,
        "Type": column.type,
        "Precision": column.precision,
        "Scale": column.scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": column.type in ("varchar", "char", "json"),
    }


def _completion_metrics(execution: Execution, now: float) -> list[dict[str, Any]]:
    stats = execution.statistics(now)
    values = {
        "TotalExecutionTime": (stats["TotalExecutionTimeInMillis"], "Milliseconds"),
        "QueryQueueTime": (stats["QueryQueueTimeInMillis"], "Milliseconds"),
        "EngineExecutionTime": (stats["EngineExecutionTimeInMillis"], "Milliseconds"),
        "QueryPlanningTime": (stats["QueryPlanningTimeInMillis"], "Milliseconds"),
        "ServiceProcessingTime": (stats["ServiceProcessingTimeInMillis"], "Milliseconds"),
        "ProcessedBytes": (stats["DataScannedInBytes"], "Bytes"),
    }
    dimension_sets = [
        [{"Name": "WorkGroup", "Value": execution.workgroup}],
        [
            {"Name": "QueryState", "Value": execution.state},
            {"Name": "QueryType", "Value": execution.statement_type},
            {"Name": "WorkGroup", "Value": execution.workgroup},
        ],
    ]
    return [
        {
            "_namespace": "AWS/Athena",
            "MetricName": name,
            "Dimensions": dims,
            "Value": float(value),
            "Unit": unit,
            "Timestamp": now,
        }
        for name, (value, unit) in values.items()
        for dims in dimension_sets
    ]


def _usage_metric(pool: str, count: int, now: float) -> dict[str, Any]:
    return {
        "_namespace": "AWS/Usage",
        "MetricName": "ResourceCount",
        "Dimensions": [
            {"Name": "Service", "Value": "Athena"},
            {"Name": "Type", "Value": "Resource"},
            {"Name": "Resource", "Value": "ActiveQueryCount"},
            {"Name": "Class", "Value": pool},
        ],
        "Value": float(count),
        "Unit": "None",
        "Timestamp": now,
    }
