"""The tables a statement names (read or written), as the submit check sees them (I-4)."""

from __future__ import annotations

import pytest
from fairshare.services.tables import (
    MAX_PARSED_BYTES,
    TableReference,
    outside_databases,
    table_references,
)
from hypothesis import given
from hypothesis import strategies as st


def _names(sql: str, default: str = "mine") -> list[str] | None:
    found = table_references(sql, default)
    return None if found is None else [str(r) for r in found]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", []),
        ("SELECT * FROM t", ["awsdatacatalog.mine.t"]),
        ("SELECT * FROM otherdb.t", ["awsdatacatalog.otherdb.t"]),
        ('SELECT * FROM "AwsDataCatalog"."OtherDB"."T"', ["awsdatacatalog.otherdb.t"]),
        ("SELECT * FROM a.x JOIN b.y ON a.x.k = b.y.k", ["awsdatacatalog.a.x", "awsdatacatalog.b.y"]),
        ("SELECT 1 AS a UNION SELECT * FROM b.y", ["awsdatacatalog.b.y"]),
        ("WITH c AS (SELECT * FROM a.x) SELECT * FROM c", ["awsdatacatalog.a.x"]),
        ("WITH c AS (SELECT 1) SELECT * FROM other.c", ["awsdatacatalog.other.c"]),
        ("SELECT * FROM (SELECT * FROM b.y) s", ["awsdatacatalog.b.y"]),
        ("SELECT * FROM a.x WHERE k IN (SELECT k FROM b.y)", ["awsdatacatalog.a.x", "awsdatacatalog.b.y"]),
        ("CREATE TABLE b.new AS SELECT * FROM a.x", ["awsdatacatalog.b.new", "awsdatacatalog.a.x"]),
        ("INSERT INTO b.z SELECT * FROM t", ["awsdatacatalog.b.z", "awsdatacatalog.mine.t"]),
        ("SELECT * FROM lake.db.t", ["lake.db.t"]),
        ("DROP TABLE b.t", ["awsdatacatalog.b.t"]),
        ("SELECT x FROM UNNEST(ARRAY[1, 2]) AS u(x)", []),
        ("SELECT * FROM t, t", ["awsdatacatalog.mine.t"]),
    ],
)
def test_every_named_table_is_found_qualified(sql: str, expected: list[str]) -> None:
    assert _names(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC * FROM b.t",  # not SQL
        "SHOW TABLES IN b",  # sqlglot reads these as an opaque command
        "MSCK REPAIR TABLE b.t",
        "UNLOAD (SELECT * FROM b.t) TO 's3://x/' WITH (format = 'PARQUET')",
    ],
)
def test_a_statement_the_parser_cannot_read_has_no_references(sql: str) -> None:
    assert table_references(sql, "mine") is None


def test_a_statement_longer_than_the_parse_bound_is_not_parsed() -> None:
    sql = "SELECT * FROM b.t WHERE x = '" + "y" * MAX_PARSED_BYTES + "'"
    assert table_references(sql, "mine") is None
    assert table_references("SELECT * FROM b.t", "mine") == [TableReference("awsdatacatalog", "b", "t")]


def test_outside_databases_keeps_only_references_beyond_the_tenants_databases() -> None:
    refs = table_references("SELECT * FROM mine.a, Sales.b, other.c, lake.mine.d", "mine")
    assert refs is not None
    assert [str(r) for r in outside_databases(refs, ["mine", "SALES"])] == [
        "awsdatacatalog.other.c",
        "lake.mine.d",
    ]


_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in {"select", "from", "as", "on", "join", "union", "with", "where", "table", "all"}
)


@given(own=_IDENT, other=_IDENT, table=_IDENT, alias=_IDENT)
def test_a_fully_named_foreign_table_is_always_found_whatever_wraps_it(
    own: str, other: str, table: str, alias: str
) -> None:
    foreign = f"{other}.{table}"
    for sql in (
        f"SELECT * FROM {foreign}",
        f"SELECT 1 AS one UNION ALL SELECT * FROM {foreign}",
        f"WITH {alias} AS (SELECT * FROM {foreign}) SELECT * FROM {alias}",
        f"SELECT * FROM {own}.x JOIN {foreign} ON true",
        f"CREATE TABLE {foreign} AS SELECT 1 AS one",
        f"INSERT INTO {foreign} SELECT 1",
    ):
        refs = table_references(sql, own)
        assert refs is not None, sql
        assert TableReference("awsdatacatalog", other, table) in refs, sql
