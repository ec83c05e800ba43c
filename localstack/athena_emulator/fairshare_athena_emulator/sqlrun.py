"""Running a query on DuckDB over local copies of the tables' objects, with Athena's types and text."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from fairshare_athena_emulator.catalog import TableSpec

CATALOG = "awsdatacatalog"

# Athena's ErrorCategory: 1 system, 2 user, 3 other. ErrorType values are the emulator's own.
USER_ERROR = 2
ERROR_TYPE_SQL = 1100
ERROR_TYPE_TABLE_NOT_FOUND = 1101
ERROR_TYPE_CUTOFF = 1200
ERROR_TYPE_HINTED = 1000
ERROR_TYPE_OUTPUT = 1300
ERROR_TYPE_ACCESS_DENIED = 1400


class QueryFailed(Exception):
    """The query ends FAILED with this reason (Athena's StateChangeReason and AthenaError)."""

    def __init__(self, reason: str, error_type: int = ERROR_TYPE_SQL, category: int = USER_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type
        self.category = category


@dataclass(slots=True, frozen=True)
class TableRef:
    database: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(slots=True, frozen=True)
class Column:
    name: str
    type: str
    precision: int = 0
    scale: int = 0


@dataclass(slots=True, frozen=True)
class ResultTable:
    columns: tuple[Column, ...]
    rows: tuple[tuple[str | None, ...], ...]

    def to_csv(self) -> bytes:
        """Athena's result file: every value double-quoted, NULL as an empty field, a header line first."""
        lines = [_csv_line([c.name for c in self.columns])]
        lines.extend(_csv_line(row) for row in self.rows)
        return "".join(lines).encode("utf-8")


EMPTY_RESULT = ResultTable(columns=(), rows=())


def _csv_line(values: Sequence[str | None]) -> str:
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"


# Opening a DuckDB database costs tens of milliseconds; attaching a fresh in-memory catalog to a pooled
# connection costs a few. Each connection serves one query at a time.
_idle_connections: list[duckdb.DuckDBPyConnection] = []
_pool_lock = threading.Lock()


@contextmanager
def _leased_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with _pool_lock:
        con = _idle_connections.pop() if _idle_connections else None
    if con is None:
        con = duckdb.connect(":memory:", config={"threads": 2})
    try:
        yield con
    finally:
        try:
            con.execute("USE memory")
            con.execute(f"DETACH DATABASE IF EXISTS {CATALOG}")
        except duckdb.Error:
            con.close()
        else:
            with _pool_lock:
                _idle_connections.append(con)


def _parse_tree(sql: str, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True, "error_message": "empty"}
    if tree.get("error"):
        raise QueryFailed(f"SYNTAX_ERROR: {tree.get('error_message', 'cannot parse the statement')}")
    if len(tree.get("statements") or []) != 1:
        raise QueryFailed("SYNTAX_ERROR: the query must hold exactly one statement")
    return tree


def referenced_tables(sql: str, default_database: str) -> list[TableRef]:
    """The base tables a query reads (CTE names excluded), qualified with the context database."""
    with _leased_connection() as con:
        tree = _parse_tree(sql, con)
    found: list[tuple[str, str]] = []  # (schema as written, table)
    cte_names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            cte_map = node.get("cte_map")
            if isinstance(cte_map, dict):
                cte_names.update(str(entry.get("key", "")).lower() for entry in cte_map.get("map", []))
            if node.get("type") == "BASE_TABLE":
                catalog = str(node.get("catalog_name") or "").lower()
                if catalog and catalog != CATALOG:
                    raise QueryFailed(
                        f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist", ERROR_TYPE_TABLE_NOT_FOUND
                    )
                found.append(
                    (str(node.get("schema_name") or "").lower(), str(node.get("table_name")).lower())
                )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    refs = {
        TableRef(schema or default_database.lower(), table): None
        for schema, table in found
        if schema or table not in cte_names
    }
    return list(refs)


def _sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _reader(spec: TableSpec, files: Sequence[Path]) -> str:
    file_list = "[" + ", ".join(_sql_string(str(f)) for f in files) + "]"
    if spec.format == "csv":
        return (
            f"read_csv({file_list}, header = {str(spec.header).lower()}, "
            f"delim = {_sql_string(spec.delimiter)}, union_by_name = true)"
        )
    if spec.format == "jsonl":
        return f"read_json({file_list}, format = 'newline_delimited', union_by_name = true)"
    return f"read_parquet({file_list}, union_by_name = true)"


def run_query(
    sql: str,
    default_database: str,
    tables: Mapping[TableRef, tuple[TableSpec, Sequence[Path]]],
) -> ResultTable:
    """Run one SELECT-like statement; each referenced table is a view over its downloaded files."""
    with _leased_connection() as con:
        tree = _parse_tree(sql, con)
        try:
            con.execute(f"ATTACH ':memory:' AS {CATALOG}")
            schemas = {default_database.lower(), *(ref.database for ref in tables)}
            for schema in sorted(schemas):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{_sql_identifier(schema)}")
            for ref, (spec, files) in tables.items():
                con.execute(
                    f"CREATE VIEW {CATALOG}.{_sql_identifier(ref.database)}.{_sql_identifier(ref.table)} "
                    f"AS SELECT * FROM {_reader(spec, files)}"
                )
            con.execute(f"USE {CATALOG}.{_sql_identifier(default_database.lower())}")
            cursor = con.execute(sql)
        except duckdb.Error as exc:
            raise QueryFailed(_athena_reason(exc)) from exc
        if cursor.description is None:
            return EMPTY_RESULT
        columns = tuple(
            _column(name, str(duck_type))
            for name, duck_type in zip(
                _column_names(tree, cursor.description), _types(cursor.description), strict=True
            )
        )
        rows = tuple(tuple(format_value(v) for v in row) for row in cursor.fetchall())
    return ResultTable(columns=columns, rows=rows)


def _types(description: Sequence[Sequence[Any]]) -> list[Any]:
    return [entry[1] for entry in description]


def _column_names(tree: Mapping[str, Any], description: Sequence[Sequence[Any]]) -> list[str]:
    """Athena names unaliased expressions `_col<i>`; DuckDB names them after their text."""
    names = [str(entry[0]) for entry in description]
    statements = tree.get("statements") or [{}]
    node = statements[0].get("node") or {}
    select_list = node.get("select_list") if node.get("type") == "SELECT_NODE" else None
    if not select_list or len(select_list) != len(names):
        return names
    if any(item.get("class") == "STAR" for item in select_list):
        return names
    return [
        f"_col{i}" if not item.get("alias") and item.get("class") != "COLUMN_REF" else names[i]
        for i, item in enumerate(select_list)
    ]


_ERROR_NAMES = (
    (re.compile(r"column|referenced", re.I), "COLUMN_NOT_FOUND"),
    (re.compile(r"function", re.I), "FUNCTION_NOT_FOUND"),
    (re.compile(r"conversion|cast", re.I), "INVALID_CAST_ARGUMENT"),
    (re.compile(r"division by zero", re.I), "DIVISION_BY_ZERO"),
)


def _athena_reason(exc: duckdb.Error) -> str:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.ParserException):
        return f"SYNTAX_ERROR: {message}"
    for pattern, name in _ERROR_NAMES:
        if pattern.search(message):
            return f"{name}: {message}"
    if isinstance(exc, duckdb.IOException | duckdb.InvalidInputException):
        return f"HIVE_BAD_DATA: {message}"
    return f"GENERIC_USER_ERROR: {message}"


_SIMPLE_TYPES: dict[str, tuple[str, int]] = {
    "BOOLEAN": ("boolean", 0),
    "TINYINT": ("tinyint", 3),
    "SMALLINT": ("smallint", 5),
    "INTEGER": ("integer", 10),
    "BIGINT": ("bigint", 19),
    "UTINYINT": ("smallint", 5),
    "USMALLINT": ("integer", 10),
    "UINTEGER": ("bigint", 19),
    "UBIGINT": ("decimal", 20),
    "HUGEINT": ("decimal", 38),
    "UHUGEINT": ("decimal", 38),
    "FLOAT": ("float", 17),
    "DOUBLE": ("double", 17),
    "VARCHAR": ("varchar", 2147483647),
    "BLOB": ("varbinary", 2147483647),
    "DATE": ("date", 0),
    "TIME": ("time", 3),
    "TIMESTAMP": ("timestamp", 3),
    "TIMESTAMP_MS": ("timestamp", 3),
    "TIMESTAMP_NS": ("timestamp", 3),
    "TIMESTAMP_S": ("timestamp", 3),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "INTERVAL": ("interval day to second", 0),
    "UUID": ("uuid", 0),
    "JSON": ("json", 0),
    "NULL": ("unknown", 0),
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def athena_type(duck_type: str) -> tuple[str, int, int]:
    """DuckDB's type name -> Athena's (Type, Precision, Scale) as GetQueryResults reports them."""
    duck_type = duck_type.strip('"')
    if duck_type in _SIMPLE_TYPES:
        name, precision = _SIMPLE_TYPES[duck_type]
        return name, precision, 0
    if match := _DECIMAL.match(duck_type):
        return "decimal", int(match.group(1)), int(match.group(2))
    if duck_type.endswith("]"):
        return "array", 0, 0
    if duck_type.startswith("STRUCT"):
        return "row", 0, 0
    if duck_type.startswith("MAP"):
        return "map", 0, 0
    if duck_type.startswith("ENUM"):
        return "varchar", 2147483647, 0
    return "varchar", 2147483647, 0


def _column(name: str, duck_type: str) -> Column:
    athena_name, precision, scale = athena_type(duck_type)
    return Column(name=name, type=athena_name, precision=precision, scale=scale)


def format_value(value: Any) -> str | None:
    """A value as Athena prints it in results (Trino's text form)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _format_double(value)
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += " " + (value.tzname() or "UTC")
        return text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return " ".join(f"{b:02x}" for b in bytes(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    return str(value)


def _nested(value: Any) -> str:
    text = format_value(value)
    return "null" if text is None else text


def _format_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
        mantissa, exponent = f"{value:E}".split("E")
        mantissa = mantissa.rstrip("0")
        mantissa = mantissa + "0" if mantissa.endswith(".") else mantissa
        return f"{mantissa}E{int(exponent)}"
    return repr(value)
