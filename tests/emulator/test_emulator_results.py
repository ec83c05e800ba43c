"""Real results: DuckDB over the tables' S3 objects, Athena's types, header row, paging, result files."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.errors import AthenaApiError
from fairshare_athena_emulator.sqlrun import athena_type, format_value, referenced_tables

from .helpers import FakeClock, MemoryStore, finish, start, status

ORDERS_CSV = (
    "id,customer,amount,paid,day\n"
    "1,ann,10.5,true,2024-01-01\n"
    "2,bob,20.25,false,2024-01-02\n"
    "3,ann,5.0,true,2024-01-03\n"
)
EVENTS_JSONL = (
    '{"id": 1, "kind": "click", "ts": "2024-05-01 10:00:00"}\n'
    '{"id": 2, "kind": "view", "ts": "2024-05-01 11:30:00"}\n'
)


def _parquet_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "t.parquet"
        duckdb.sql(
            f"COPY (SELECT range AS n, range * 2 AS doubled FROM range(5)) TO '{path}' (FORMAT parquet)"
        )
        return path.read_bytes()


@pytest.fixture
def tables(engine: AthenaEngine, store: MemoryStore) -> dict[str, int]:
    store.put("s3://data/sales/orders/part-0.csv", ORDERS_CSV)
    store.put("s3://data/web/events/2024/a.json", EVENTS_JSONL)
    parquet = _parquet_bytes()
    store.put("s3://data/web/numbers/n.parquet", parquet)
    store.put("s3://data/web/numbers/_SUCCESS", "")
    engine.settings.update(
        {
            "catalog": {
                "sales.orders": {"format": "csv", "location": "s3://data/sales/orders/"},
                "web.events": {"format": "jsonl", "location": "s3://data/web/events/"},
                "web.numbers": {"format": "parquet", "location": "s3://data/web/numbers"},
            }
        }
    )
    return {"orders": len(ORDERS_CSV), "events": len(EVENTS_JSONL), "numbers": len(parquet)}


def _run(engine: AthenaEngine, clock: FakeClock, sql: str, **params: Any) -> str:
    execution_id = start(engine, sql, **params)
    finish(engine, clock)
    return execution_id


def _rows(engine: AthenaEngine, execution_id: str, **params: Any) -> list[list[str | None]]:
    answer = engine.get_query_results({"QueryExecutionId": execution_id, **params})
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in answer["ResultSet"]["Rows"]]


def test_select_over_a_csv_table_gives_rows_types_and_bytes_scanned(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(
        engine,
        clock,
        "SELECT customer, sum(amount) AS total, count(*) AS n FROM sales.orders "
        "GROUP BY customer ORDER BY customer",
    )
    described = status(engine, execution_id)
    assert described["Status"]["State"] == "SUCCEEDED", described["Status"]
    assert described["Statistics"]["DataScannedInBytes"] == tables["orders"]
    assert _rows(engine, execution_id) == [
        ["customer", "total", "n"],
        ["ann", "15.5", "2"],
        ["bob", "20.25", "1"],
    ]
    columns = engine.get_query_results({"QueryExecutionId": execution_id})["ResultSet"]["ResultSetMetadata"]
    assert [(c["Name"], c["Type"]) for c in columns["ColumnInfo"]] == [
        ("customer", "varchar"),
        ("total", "double"),
        ("n", "bigint"),
    ]


def test_the_context_database_resolves_unqualified_tables(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(
        engine,
        clock,
        "SELECT count(*) AS n FROM orders WHERE paid",
        QueryExecutionContext={"Database": "sales"},
    )
    assert _rows(engine, execution_id) == [["n"], ["2"]]


def test_jsonl_and_parquet_tables_and_a_join_count_both_tables(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(
        engine,
        clock,
        "SELECT e.kind, n.doubled FROM awsdatacatalog.web.events e "
        "JOIN web.numbers n ON e.id = n.n ORDER BY e.id",
    )
    assert (
        status(engine, execution_id)["Statistics"]["DataScannedInBytes"]
        == tables["events"] + tables["numbers"]
    )
    assert _rows(engine, execution_id) == [["kind", "doubled"], ["click", "2"], ["view", "4"]]


def test_dates_timestamps_booleans_and_decimals_use_athena_types(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(
        engine,
        clock,
        "SELECT day, paid, CAST(amount AS DECIMAL(10,2)) AS amount, CAST(day AS TIMESTAMP) AS ts "
        "FROM sales.orders WHERE id = 1",
    )
    answer = engine.get_query_results({"QueryExecutionId": execution_id})
    info = answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Type"], c["Precision"], c["Scale"]) for c in info] == [
        ("date", 0, 0),
        ("boolean", 0, 0),
        ("decimal", 10, 2),
        ("timestamp", 3, 0),
    ]
    assert _rows(engine, execution_id)[1] == ["2024-01-01", "true", "10.50", "2024-01-01 00:00:00.000"]


def test_select_without_tables_names_unaliased_columns_like_athena(
    engine: AthenaEngine, clock: FakeClock
) -> None:
    execution_id = _run(engine, clock, "SELECT 1, 'x' AS label, NULL AS nothing")
    assert status(engine, execution_id)["Statistics"]["DataScannedInBytes"] == 0
    answer = engine.get_query_results({"QueryExecutionId": execution_id})
    types = [c["Type"] for c in answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    # DuckDB 1.5 types a bare NULL as INTEGER, 2.0 as NULL (Athena: unknown)
    assert types[:2] == ["integer", "varchar"] and types[2] in ("integer", "unknown")
    rows = answer["ResultSet"]["Rows"]
    assert rows[0]["Data"] == [
        {"VarCharValue": "_col0"},
        {"VarCharValue": "label"},
        {"VarCharValue": "nothing"},
    ]
    assert rows[1]["Data"] == [{"VarCharValue": "1"}, {"VarCharValue": "x"}, {}]  # NULL has no VarCharValue


def test_results_page_with_the_header_on_the_first_page_only(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "SELECT range AS n FROM range(2500)")
    pages: list[list[list[str | None]]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
        if token:
            params["NextToken"] = token
        answer = engine.get_query_results(params)
        pages.append([[c.get("VarCharValue") for c in r["Data"]] for r in answer["ResultSet"]["Rows"]])
        token = answer.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [1000, 1000, 501]
    assert pages[0][0] == ["n"]
    values = [int(str(row[0])) for page in pages for row in page if row != ["n"]]
    assert values == list(range(2500))


def test_max_results_above_1000_is_rejected(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "SELECT 1")
    with pytest.raises(AthenaApiError, match="MaxResults"):
        engine.get_query_results({"QueryExecutionId": execution_id, "MaxResults": 1001})


def test_results_of_an_unfinished_query_are_an_invalid_request(engine: AthenaEngine) -> None:
    execution_id = start(engine, "SELECT 1")
    with pytest.raises(AthenaApiError, match="not yet finished"):
        engine.get_query_results({"QueryExecutionId": execution_id})


def test_the_result_csv_and_metadata_land_in_the_output_location(
    engine: AthenaEngine, clock: FakeClock, store: MemoryStore, tables: dict[str, int]
) -> None:
    execution_id = _run(engine, clock, "SELECT id, customer FROM sales.orders WHERE id < 3 ORDER BY id")
    body = store.get_object("results", f"athena/{execution_id}.csv").decode()
    assert body == '"id","customer"\n"1","ann"\n"2","bob"\n'
    assert list(csv.reader(io.StringIO(body)))[1] == ["1", "ann"]
    metadata = json.loads(store.get_object("results", f"athena/{execution_id}.csv.metadata"))
    assert metadata["columns"][0] == {"name": "id", "type": "bigint", "precision": 19, "scale": 0}


def test_an_unknown_table_fails_like_athena(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(engine, clock, "SELECT * FROM sales.nope")
    failed = status(engine, execution_id)["Status"]
    assert failed["State"] == "FAILED"
    assert failed["StateChangeReason"] == "TABLE_NOT_FOUND: Table 'awsdatacatalog.sales.nope' does not exist"
    assert failed["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(AthenaApiError):
        engine.get_query_results({"QueryExecutionId": execution_id})


def test_bad_sql_fails_with_a_syntax_error(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "SELEC 1")
    assert status(engine, execution_id)["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR")


def test_an_unknown_column_fails(engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]) -> None:
    execution_id = _run(engine, clock, "SELECT nope FROM sales.orders")
    assert status(engine, execution_id)["Status"]["StateChangeReason"].startswith("COLUMN_NOT_FOUND")


def test_a_missing_output_bucket_fails_the_query(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "SELECT 1", ResultConfiguration={"OutputLocation": "s3://absent/x/"})
    described = status(engine, execution_id)["Status"]
    assert described["State"] == "FAILED"
    assert "s3://absent/x/" in described["StateChangeReason"]


def test_the_real_table_size_counts_against_the_cutoff(
    engine: AthenaEngine, clock: FakeClock, store: MemoryStore
) -> None:
    store.put("s3://data/big/rows.csv", "a\n" + "1\n" * 5_000_001)
    engine.settings.update({"catalog": {"big.rows": {"format": "csv", "location": "s3://data/big/"}}})
    engine.create_work_group(
        {
            "Name": "capped",
            "Configuration": {
                "ResultConfiguration": {"OutputLocation": "s3://results/c/"},
                "BytesScannedCutoffPerQuery": 10_000_000,
            },
        }
    )
    execution_id = _run(engine, clock, "SELECT count(*) FROM big.rows", WorkGroup="capped")
    described = status(engine, execution_id)
    assert described["Status"]["State"] == "FAILED"
    assert described["Statistics"]["DataScannedInBytes"] == 10_000_004


def test_ctes_are_not_mistaken_for_tables(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(
        engine, clock, "WITH paid AS (SELECT * FROM sales.orders WHERE paid) SELECT count(*) AS n FROM paid"
    )
    assert _rows(engine, execution_id) == [["n"], ["2"]]


def test_show_tables_lists_the_registry(
    engine: AthenaEngine, clock: FakeClock, tables: dict[str, int]
) -> None:
    execution_id = _run(engine, clock, "SHOW TABLES IN web")
    assert _rows(engine, execution_id) == [["events"], ["numbers"]]


def test_ddl_succeeds_without_results(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "CREATE EXTERNAL TABLE x (a int) LOCATION 's3://data/x/'")
    assert status(engine, execution_id)["Status"]["State"] == "SUCCEEDED"
    assert engine.get_query_results({"QueryExecutionId": execution_id})["ResultSet"]["Rows"] == []


def test_a_catalog_in_s3_is_read_per_query(
    engine: AthenaEngine, clock: FakeClock, store: MemoryStore
) -> None:
    store.put("s3://data/other/t/x.csv", "v\n42\n")
    store.put(
        "s3://data/_emulator/catalog.json",
        json.dumps({"other.t": {"format": "csv", "location": "s3://data/other/t/"}}),
    )
    engine.settings.update({"catalog_s3_uri": "s3://data/_emulator/catalog.json"})
    execution_id = _run(engine, clock, "SELECT v FROM other.t")
    assert _rows(engine, execution_id) == [["v"], ["42"]]


@pytest.mark.parametrize(
    ("duck", "athena"),
    [
        ("INTEGER", ("integer", 10, 0)),
        ("BIGINT", ("bigint", 19, 0)),
        ("DOUBLE", ("double", 17, 0)),
        ("VARCHAR", ("varchar", 2147483647, 0)),
        ("BOOLEAN", ("boolean", 0, 0)),
        ("DATE", ("date", 0, 0)),
        ("TIMESTAMP", ("timestamp", 3, 0)),
        ("DECIMAL(18,3)", ("decimal", 18, 3)),
        ("INTEGER[]", ("array", 0, 0)),
        ("STRUCT(a INTEGER)", ("row", 0, 0)),
        ("MAP(VARCHAR, INTEGER)", ("map", 0, 0)),
    ],
)
def test_type_mapping(duck: str, athena: tuple[str, int, int]) -> None:
    assert athena_type(duck) == athena


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (True, "true"),
        (1.5, "1.5"),
        (1e20, "1.0E20"),
        ([1, None], "[1, null]"),
        ({"a": 1}, "{a=1}"),
    ],
)
def test_value_text(value: Any, text: str | None) -> None:
    assert format_value(value) == text


def test_referenced_tables_qualifies_with_the_context_database() -> None:
    refs = referenced_tables("SELECT * FROM a JOIN x.b ON true JOIN awsdatacatalog.y.c ON true", "Ctx")
    assert sorted(r.name for r in refs) == ["ctx.a", "x.b", "y.c"]


def test_two_statements_in_one_query_fail(engine: AthenaEngine, clock: FakeClock) -> None:
    execution_id = _run(engine, clock, "SELECT 1; SELECT 2")
    described = status(engine, execution_id)["Status"]
    assert described["State"] == "FAILED"
    assert described["StateChangeReason"] == "SYNTAX_ERROR: the query must hold exactly one statement"
