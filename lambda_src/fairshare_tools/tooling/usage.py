"""Per-tenant and per-user usage from the ledger: queries by final state, bytes scanned (sum, p95),
engine time, queue wait (p50, p95) and the databases touched, over a date range. Optionally cross-checks
the ledger's bytes against Athena's own statistics (BatchGetQueryExecution, 50 ids per call).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fairshare.adapters.ddb_ledger import record_from_item
from fairshare.ports import QueryRecord

from fairshare_tools.tooling.loadgen import percentile

ALL_USERS = "*"
NO_USER = "-"
DECLARED = " (self-declared)"
STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING", "ADMITTED", "QUEUED")
ATHENA_BATCH = 50  # BatchGetQueryExecution takes at most 50 ids


def day_range_ms(start: date, end: date) -> tuple[int, int]:
    """[start 00:00, end 24:00) UTC in epoch milliseconds (both days included)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    finish = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return int(begin.timestamp() * 1000), int(finish.timestamp() * 1000) - 1


def fetch_records(
    ddb: Any, table: str, start_ms: int, end_ms: int, tenants: Sequence[str] | None = None
) -> Iterator[QueryRecord]:
    """Ledger records submitted in [start_ms, end_ms]: GSI `tenant_time` per tenant, else a filtered scan."""
    values = {":a": {"N": str(start_ms)}, ":b": {"N": str(end_ms)}}
    requests: list[tuple[str, dict[str, Any]]] = []
    if tenants:
        for tenant in tenants:
            requests.append(
                (
                    "query",
                    {
                        "TableName": table,
                        "IndexName": "tenant_time",
                        "KeyConditionExpression": "tenant = :t AND submitted_at BETWEEN :a AND :b",
                        "ExpressionAttributeValues": {**values, ":t": {"S": tenant}},
                    },
                )
            )
    else:
        requests.append(
            (
                "scan",
                {
                    "TableName": table,
                    "FilterExpression": "submitted_at BETWEEN :a AND :b",
                    "ExpressionAttributeValues": values,
                },
            )
        )
    for operation, kwargs in requests:
        while True:
            page = getattr(ddb, operation)(**kwargs)
            for item in page.get("Items", []):
                yield record_from_item(item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class UsageRow:
    tenant: str
    user: str  # ALL_USERS for the tenant's total
    queries: int = 0
    states: Counter[str] = field(default_factory=Counter)
    bytes_scanned: list[int] = field(default_factory=list)
    engine_ms: int = 0
    queue_wait_ms: list[int] = field(default_factory=list)
    databases: set[str] = field(default_factory=set)
    athena_bytes: int | None = None

    def add(self, record: QueryRecord) -> None:
        self.queries += 1
        self.states[record.status] += 1
        if record.bytes_scanned is not None:
            self.bytes_scanned.append(record.bytes_scanned)
        self.engine_ms += record.engine_ms or 0
        if record.admitted_at is not None:
            # The platform's queue: from the API's 202 to the admission (the part fair share controls).
            self.queue_wait_ms.append(max(0, record.admitted_at - record.submitted_at))
        self.databases.add(record.database)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "tenant": self.tenant,
            "user": self.user,
            "queries": self.queries,
            **{state.lower(): self.states.get(state, 0) for state in STATES},
            "bytes_scanned": sum(self.bytes_scanned),
            "bytes_scanned_p95": percentile(self.bytes_scanned, 95),
            "engine_ms": self.engine_ms,
            "queue_wait_ms_p50": percentile(self.queue_wait_ms, 50),
            "queue_wait_ms_p95": percentile(self.queue_wait_ms, 95),
            "databases": sorted(self.databases),
        }
        if self.athena_bytes is not None:
            row["athena_bytes_scanned"] = self.athena_bytes
        return row


def user_of(record: QueryRecord) -> str:
    """The submitting user as the report shows it: a verified caller (the IAM ARN, the Athena endpoint's
    signing key id) as is, a user the caller only declared (X-Fairshare-User, the seed route's userId)
    marked so, `-` when none was given."""
    if not record.submitted_by:
        return NO_USER
    if record.submitted_by_source == "declared":
        return f"{record.submitted_by}{DECLARED}"
    return record.submitted_by


def aggregate(records: Iterable[QueryRecord], *, per_user: bool = True) -> list[UsageRow]:
    """One row per tenant (user `*`), followed by one per submitting user when `per_user`."""
    rows: dict[tuple[str, str], UsageRow] = {}
    for record in records:
        keys = [(record.tenant, ALL_USERS)]
        if per_user:
            keys.append((record.tenant, user_of(record)))
        for key in keys:
            rows.setdefault(key, UsageRow(*key)).add(record)
    return [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[1] != ALL_USERS, k[1]))]


@dataclass(frozen=True)
class CrossCheck:
    """The ledger's bytes against Athena's statistics, for executions Athena still knows."""

    checked: int
    mismatches: tuple[tuple[str, int | None, int], ...]  # (execution id, ledger bytes, Athena bytes)
    unknown: tuple[str, ...]  # ids Athena did not return (expired or from another region)
    athena_bytes_by_tenant: dict[str, int]


def cross_check_athena(athena: Any, records: Sequence[QueryRecord]) -> CrossCheck:
    by_execution = {r.athena_execution_id: r for r in records if r.athena_execution_id}
    ids = sorted(by_execution)
    mismatches: list[tuple[str, int | None, int]] = []
    unknown: list[str] = []
    athena_bytes: dict[str, int] = defaultdict(int)
    checked = 0
    for offset in range(0, len(ids), ATHENA_BATCH):
        chunk = ids[offset : offset + ATHENA_BATCH]
        answer = athena.batch_get_query_execution(QueryExecutionIds=chunk)
        unknown.extend(u["QueryExecutionId"] for u in answer.get("UnprocessedQueryExecutionIds", []))
        for execution in answer.get("QueryExecutions", []):
            execution_id = execution["QueryExecutionId"]
            record = by_execution.get(execution_id)
            if record is None:
                continue
            checked += 1
            scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
            athena_bytes[record.tenant] += scanned
            if record.bytes_scanned != scanned and execution.get("Status", {}).get("State") in (
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
            ):
                mismatches.append((execution_id, record.bytes_scanned, scanned))
    return CrossCheck(checked, tuple(mismatches), tuple(unknown), dict(athena_bytes))


def to_csv(rows: Sequence[UsageRow]) -> str:
    buffer = io.StringIO()
    dicts = [r.as_dict() for r in rows]
    if not dicts:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(dicts[0]), lineterminator="\n")
    writer.writeheader()
    for row in dicts:
        writer.writerow({**row, "databases": " ".join(row["databases"])})
    return buffer.getvalue()


def to_json(rows: Sequence[UsageRow], start: date, end: date, cross_check: CrossCheck | None = None) -> str:
    document: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rows": [r.as_dict() for r in rows],
    }
    if cross_check is not None:
        document["athena_cross_check"] = {
            "checked": cross_check.checked,
            "mismatches": [
                {"athena_execution_id": e, "ledger_bytes": lb, "athena_bytes": ab}
                for e, lb, ab in cross_check.mismatches
            ],
            "unknown": list(cross_check.unknown),
        }
    return json.dumps(document, indent=2)


def plot(rows: Sequence[UsageRow], path: str) -> None:
    """A bar chart per tenant: bytes scanned (left) and queries by final state (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tenants = [r for r in rows if r.user == ALL_USERS]
    names = [r.tenant for r in tenants]
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(8.0, 1.2 * len(names) + 4), 4.5))
    left.bar(names, [sum(r.bytes_scanned) / 1e9 for r in tenants], color="#4472c4")
    left.set_title("bytes scanned (GB)")
    bottom = [0] * len(tenants)
    for state, color in (("SUCCEEDED", "#70ad47"), ("FAILED", "#c00000"), ("CANCELLED", "#a5a5a5")):
        counts = [r.states.get(state, 0) for r in tenants]
        right.bar(names, counts, bottom=bottom, label=state.lower(), color=color)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    right.set_title("queries")
    right.legend()
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=30)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
