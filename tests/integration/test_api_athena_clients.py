"""Athena's own client libraries, unchanged, through the platform's Athena endpoint: only the endpoint URL
and the credentials (the tenant's API key id and value) differ from a program that calls Athena.

Each library is skipped where it is not installed: PyAthena and SQLAlchemy are in requirements-dev.txt;
awswrangler (with pandas and pyarrow, about 150 MB) is not, and runs where it is installed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.athena_endpoint import SECRETS, STAGE, Endpoint, serve
from tests.integration.conftest import REGION, Platform, athena_event, complete, dispatch

ROWS = [("1", "north", "10.5"), ("2", "south", None), ("3", "east", "7.25")]
COLUMNS = [("id", "integer"), ("region", "varchar"), ("total", "double")]


class Engine(threading.Thread):
    """Runs the platform as its Lambdas would: a dispatch round, Athena finishing what runs, the
    completion events, again and again until stopped."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(daemon=True)
        self.platform = platform
        self.halt = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        while not self.halt.wait(0.05):
            try:
                dispatch()
                for execution in list(self.platform.athena.executions.values()):
                    if execution.state == "RUNNING":
                        self.platform.athena.finish(execution.execution_id, columns=COLUMNS, rows=ROWS)
                        _write_result_file(self.platform, execution.execution_id)
                        complete(athena_event(execution.execution_id, "SUCCEEDED", execution.workgroup))
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)


@pytest.fixture
def endpoint(platform: Platform) -> Iterator[Endpoint]:
    platform.athena.catalog = {
        "default": {"events": [("id", "bigint")]},
        "sales": {"orders": [("id", "integer"), ("region", "varchar"), ("total", "double")]},
        "hr": {"salaries": [("name", "string")]},
    }
    engine = Engine(platform)
    with serve(platform) as served:
        engine.start()
        try:
            yield served
        finally:
            engine.halt.set()
            engine.join(10)
    assert not engine.errors, engine.errors


def _connect(endpoint: Endpoint, **kwargs: Any) -> Any:
    pyathena = pytest.importorskip("pyathena")
    return pyathena.connect(
        work_group="fs-test-alpha",
        region_name=REGION,
        schema_name="sales",
        aws_access_key_id="key-alpha",
        aws_secret_access_key=SECRETS["key-alpha"],
        endpoint_url=endpoint.url,
        poll_interval=0.05,
        **kwargs,
    )


def test_pyathena_cursor_runs_a_query_through_the_platform(platform: Platform, endpoint: Endpoint) -> None:
    with _connect(endpoint) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, region, total FROM orders WHERE total > %(low)s", {"low": 1})
        rows = cursor.fetchall()
        description = [(d[0], d[1]) for d in cursor.description]
        query_id = cursor.query_id
        state = cursor.state

    assert rows == [(1, "north", 10.5), (2, "south", None), (3, "east", 7.25)]
    assert description == [("id", "integer"), ("region", "varchar"), ("total", "double")]
    assert state == "SUCCEEDED"
    record = platform.ledger.get(query_id)
    assert record is not None and record.tenant == "alpha" and record.status == "SUCCEEDED"
    assert record.sql == "SELECT id, region, total FROM orders WHERE total > 1"


def test_sqlalchemy_engine_reflects_and_queries_the_tenants_databases(
    platform: Platform, endpoint: Endpoint
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("pyathena.sqlalchemy")
    host = f"athena.{REGION}.amazonaws.com"
    engine = sqlalchemy.create_engine(
        f"awsathena+rest://key-alpha:{SECRETS['key-alpha']}@{host}:443/sales?work_group=fs-test-alpha",
        connect_args={"endpoint_url": endpoint.url, "poll_interval": 0.05},
    )
    inspector = sqlalchemy.inspect(engine)
    schemas = inspector.get_schema_names()
    tables = inspector.get_table_names(schema="sales")
    columns = [c["name"] for c in inspector.get_columns("orders", schema="sales")]
    has_foreign = inspector.has_table("salaries", schema="hr")
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT id, region, total FROM orders")).fetchall()

    assert schemas == ["default", "sales"]  # never the other tenants' databases
    assert tables == ["orders"] and columns == ["id", "region", "total"]
    assert has_foreign is False
    assert [tuple(r) for r in rows] == [(1, "north", 10.5), (2, "south", None), (3, "east", 7.25)]


def test_clients_poll_the_ledger_not_athena(platform: Platform, endpoint: Endpoint) -> None:
    with _connect(endpoint) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    # the platform itself reads Athena once per finished query (completion); the client's polls: never
    assert platform.athena.get_calls <= len(platform.athena.executions)
    assert STAGE in endpoint.url


def _write_result_file(platform: Platform, execution_id: str) -> None:
    """Athena writes each SELECT's result as CSV at its output location; clients that read S3 (awswrangler,
    PyAthena's pandas and arrow cursors) read it there, with their own S3 credentials."""
    execution = platform.athena.executions[execution_id]
    location = f"{platform.athena.outputs[execution.workgroup]}{execution_id}.csv"  # as FakeAthena reports it
    bucket, key = location[5:].split("/", 1)
    lines = [",".join(f'"{name}"' for name, _ in COLUMNS)]
    lines += [",".join("" if v is None else f'"{v}"' for v in row) for row in ROWS]
    platform.s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())


def test_awswrangler_reads_a_query_run_through_the_platform(
    platform: Platform, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    import awswrangler as wr
    import boto3

    monkeypatch.setattr(wr.config, "athena_endpoint_url", endpoint.url)
    session = boto3.session.Session(
        aws_access_key_id="key-alpha", aws_secret_access_key=SECRETS["key-alpha"], region_name=REGION
    )
    frame = wr.athena.read_sql_query(
        "SELECT id, region, total FROM orders",
        database="sales",
        workgroup="fs-test-alpha",
        ctas_approach=False,
        unload_approach=False,
        boto3_session=session,
    )

    assert list(frame.columns) == ["id", "region", "total"]
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["region"].tolist() == ["north", "south", "east"]
