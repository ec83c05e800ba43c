"""The usage report: aggregation, the ledger read (moto DynamoDB, in-process), the Athena cross-check."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from click.testing import CliRunner
from fairshare.ports import QueryRecord
from fairshare_tools.tooling.usage import (
    ALL_USERS,
    aggregate,
    cross_check_athena,
    day_range_ms,
    fetch_records,
    to_csv,
)
from fairshare_tools.tooling.usage_cli import main
from moto import mock_aws

DAY_MS = 86_400_000
NOV_20 = day_range_ms(date(2026, 11, 20), date(2026, 11, 20))[0]


def rec(
    n: int,
    tenant: str,
    status: str = "SUCCEEDED",
    *,
    user: str | None = None,
    scanned: int | None = 1000,
    engine: int | None = 2000,
    wait: int | None = 100,
    database: str = "sales",
    at: int = NOV_20 + 3_600_000,
) -> QueryRecord:
    return QueryRecord(
        query_id=f"q{n}",
        tenant=tenant,
        status=status,
        sql="SELECT 1",
        database=database,
        workgroup=f"wg-{tenant}",
        statement_class="DML",
        priority=1,
        seq=n,
        submitted_at=at,
        submitted_by=user,
        admitted_at=None if wait is None else at + wait,
        bytes_scanned=scanned,
        engine_ms=engine,
        athena_execution_id=f"exec-{n}" if scanned is not None else None,
    )


def test_day_ranges_are_whole_utc_days() -> None:
    start, end = day_range_ms(date(2026, 11, 20), date(2026, 11, 21))
    assert (start, end) == (NOV_20, NOV_20 + 2 * DAY_MS - 1)
    with pytest.raises(ValueError, match="ends"):
        day_range_ms(date(2026, 11, 21), date(2026, 11, 20))


def test_rows_per_tenant_then_per_user_with_states_bytes_and_waits() -> None:
    records = [
        rec(1, "alpha", user="ann", scanned=100, wait=10),
        rec(2, "alpha", user="ann", scanned=300, wait=30, database="web"),
        rec(3, "alpha", "FAILED", user="bob", scanned=50, wait=20),
        rec(4, "alpha", "CANCELLED", scanned=None, engine=None, wait=None),
        rec(5, "beta", "RUNNING", user="cy", scanned=None, engine=None, wait=5),
    ]
    rows = aggregate(records)
    assert [(r.tenant, r.user) for r in rows] == [
        ("alpha", ALL_USERS),
        ("alpha", "-"),
        ("alpha", "ann"),
        ("alpha", "bob"),
        ("beta", ALL_USERS),
        ("beta", "cy"),
    ]
    alpha = rows[0].as_dict()
    assert (alpha["queries"], alpha["succeeded"], alpha["failed"], alpha["cancelled"]) == (4, 2, 1, 1)
    assert (alpha["bytes_scanned"], alpha["bytes_scanned_p95"]) == (450, 300)
    assert alpha["engine_ms"] == 6000
    assert (alpha["queue_wait_ms_p50"], alpha["queue_wait_ms_p95"]) == (20, 30)
    assert alpha["databases"] == ["sales", "web"]
    assert rows[2].as_dict()["bytes_scanned"] == 400
    assert rows[4].as_dict()["running"] == 1
    assert [(r.tenant, r.user) for r in aggregate(records, per_user=False)] == [
        ("alpha", ALL_USERS),
        ("beta", ALL_USERS),
    ]


def test_csv_has_one_line_per_row_and_space_separated_databases() -> None:
    text = to_csv(aggregate([rec(1, "alpha", user="ann"), rec(2, "alpha", user="ann", database="web")]))
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(r["tenant"], r["user"], r["queries"], r["databases"]) for r in lines] == [
        ("alpha", "*", "2", "sales web"),
        ("alpha", "ann", "2", "sales web"),
    ]


class FakeAthena:
    def __init__(self, scanned: dict[str, int], unknown: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.scanned = scanned
        self.unknown = unknown
        self.calls: list[list[str]] = []

    def batch_get_query_execution(self, QueryExecutionIds: list[str]) -> dict[str, Any]:
        assert len(QueryExecutionIds) <= 50
        self.calls.append(QueryExecutionIds)
        return {
            "QueryExecutions": [
                {
                    "QueryExecutionId": i,
                    "Status": {"State": "SUCCEEDED"},
                    "Statistics": {"DataScannedInBytes": self.scanned[i]},
                }
                for i in QueryExecutionIds
                if i not in self.unknown
            ],
            "UnprocessedQueryExecutionIds": [
                {"QueryExecutionId": i, "ErrorCode": "InvalidRequestException"}
                for i in QueryExecutionIds
                if i in self.unknown
            ],
        }


def test_the_athena_cross_check_batches_by_50_and_reports_mismatches() -> None:
    records = [rec(n, "alpha" if n % 2 else "beta", scanned=1000) for n in range(120)]
    scanned = {f"exec-{n}": 1000 for n in range(120)}
    scanned["exec-7"] = 1234
    athena = FakeAthena(scanned, unknown={"exec-8"})
    check = cross_check_athena(athena, records)
    assert [len(c) for c in athena.calls] == [50, 50, 20]
    assert check.checked == 119
    assert check.mismatches == (("exec-7", 1000, 1234),)
    assert check.unknown == ("exec-8",)
    assert check.athena_bytes_by_tenant == {"alpha": 60 * 1000 + 234, "beta": 59 * 1000}


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="fs-local-queries",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "query_id", "AttributeType": "S"},
                {"AttributeName": "tenant", "AttributeType": "S"},
                {"AttributeName": "submitted_at", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "query_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "tenant_time",
                    "KeySchema": [
                        {"AttributeName": "tenant", "KeyType": "HASH"},
                        {"AttributeName": "submitted_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        serializer = TypeSerializer()
        records = [rec(n, "alpha", user="ann") for n in range(30)]
        records += [rec(100 + n, "beta", "FAILED", scanned=5) for n in range(3)]
        records += [rec(200, "alpha", at=NOV_20 - 1), rec(201, "beta", at=NOV_20 + DAY_MS)]  # other days
        for record in records:
            item = {
                k: serializer.serialize(v) for k, v in dataclasses.asdict(record).items() if v is not None
            }
            ddb.put_item(TableName="fs-local-queries", Item=item)
        yield ddb


def test_records_of_the_range_come_from_a_scan_or_the_tenant_index(ledger: Any) -> None:
    start, end = day_range_ms(date(2026, 11, 20), date(2026, 11, 20))
    scanned = list(fetch_records(ledger, "fs-local-queries", start, end))
    assert sorted(r.query_id for r in scanned) == sorted(
        [f"q{n}" for n in range(30)] + ["q100", "q101", "q102"]
    )
    by_index = list(fetch_records(ledger, "fs-local-queries", start, end, ["beta"]))
    assert [r.query_id for r in by_index] == ["q100", "q101", "q102"]
    assert by_index[0].bytes_scanned == 5 and by_index[0].status == "FAILED"


def test_the_cli_prints_json_and_csv_for_the_range(ledger: Any, tmp_path: Path) -> None:
    args = ["--table", "fs-local-queries", "--from", "2026-11-20", "--to", "2026-11-20"]
    result = CliRunner().invoke(main, [*args, "--format", "json", "--no-users"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["from"], document["to"]) == ("2026-11-20", "2026-11-20")
    totals = {
        r["tenant"]: (r["queries"], r["succeeded"], r["failed"], r["bytes_scanned"]) for r in document["rows"]
    }
    assert totals == {"alpha": (30, 30, 0, 30_000), "beta": (3, 0, 3, 15)}
    table = CliRunner().invoke(main, [*args, "--tenant", "alpha"])
    assert table.exit_code == 0
    assert "alpha" in table.stdout and "ann" in table.stdout and "beta" not in table.stdout
    assert "30 queries from fs-local-queries" in table.stderr


def test_the_cli_writes_a_plot(ledger: Any, tmp_path: Path) -> None:
    target = tmp_path / "usage.png"
    args = [
        "--table",
        "fs-local-queries",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-20",
        "--plot",
        str(target),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cli_needs_a_table_and_a_sane_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRSHARE_QUERIES_TABLE", raising=False)
    assert CliRunner().invoke(main, []).exit_code == 2
    backwards = ["--table", "t", "--from", "2026-11-21", "--to", "2026-11-20"]
    result = CliRunner().invoke(main, backwards)
    assert result.exit_code == 2 and "before it starts" in result.stderr


def test_a_missing_table_is_one_error_line(ledger: Any) -> None:
    result = CliRunner().invoke(main, ["--table", "nope"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: reading nope:")
