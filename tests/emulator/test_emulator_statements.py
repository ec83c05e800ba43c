"""The emulator's pool rule is the platform's rule (fairshare.domain.statements), and hints parse."""

from __future__ import annotations

import pytest
from fairshare.domain.statements import classify_statement
from fairshare_athena_emulator.statements import parse_hints, pool_of, statement_type_of

CORPUS = [
    "SELECT 1",
    "  select * from t;",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "(SELECT 1)",
    "VALUES 1",
    "INSERT INTO t SELECT 1",
    "UNLOAD (SELECT 1) TO 's3://b/p/' WITH (format = 'PARQUET')",
    "EXPLAIN SELECT 1",
    "CREATE TABLE x AS SELECT 1",
    "create table x with (format='PARQUET') as select 1",
    "CREATE EXTERNAL TABLE x (a int) LOCATION 's3://b/'",
    "CREATE TABLE x (a int)",
    "CREATE VIEW v AS SELECT 1",
    "ALTER TABLE x ADD PARTITION (d='1')",
    "DROP TABLE x",
    "MSCK REPAIR TABLE x",
    "SHOW TABLES",
    "DESCRIBE x",
    "/* CREATE */ SELECT 1",
    "-- DROP\nSELECT 'CREATE TABLE'",
]


@pytest.mark.parametrize("sql", CORPUS)
def test_the_pool_matches_the_platform_classifier(sql: str) -> None:
    assert pool_of(sql) == classify_statement(sql)


@pytest.mark.parametrize(
    ("sql", "statement_type"),
    [
        ("SELECT 1", "DML"),
        ("CREATE TABLE x AS SELECT 1", "DML"),
        ("DROP TABLE x", "DDL"),
        ("SHOW TABLES", "UTILITY"),
    ],
)
def test_statement_type(sql: str, statement_type: str) -> None:
    assert statement_type_of(sql) == statement_type


def test_hints_in_comments() -> None:
    hints = parse_hints("/* fairshare:duration=2.5 */ SELECT 1 /* fairshare:queue=0.2, fail=HIVE_BAD_DATA */")
    assert (hints.run_seconds, hints.queue_seconds, hints.fail_reason) == (2.5, 0.2, "HIVE_BAD_DATA")
    assert parse_hints("/* fairshare:scanned=123 */ SELECT 1").scanned_bytes == 123
    assert parse_hints("SELECT '/* fairshare:duration=x */'").run_seconds is None
    assert parse_hints("/* duration=3 */ SELECT 1").run_seconds is None
