from __future__ import annotations

import pytest
from fairshare.domain import (
    MAX_QUERY_BYTES,
    PayloadTooLarge,
    ValidationFailed,
    classify_statement,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "DML"),
        ("  select * from t;  ", "DML"),
        ("/* fairshare:duration=2.5 */ SELECT 1", "DML"),
        ("-- note\nWITH x AS (SELECT 1) SELECT * FROM x", "DML"),
        ("(SELECT 1) UNION (SELECT 2)", "DML"),
        ("INSERT INTO t SELECT * FROM s", "DML"),
        ("CREATE TABLE t AS SELECT * FROM s", "DML"),
        ("CREATE TABLE t WITH (format='PARQUET') AS SELECT 1", "DML"),
        ("UNLOAD (SELECT 1) TO 's3://b/p' WITH (format='JSON')", "DML"),
        ("EXPLAIN SELECT 1", "DML"),
        ("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/p/'", "DDL"),
        ("create database sales", "DDL"),
        ("ALTER TABLE t ADD PARTITION (dt='2026-01-01')", "DDL"),
        ("MSCK REPAIR TABLE t", "DDL"),
        ("DROP TABLE t", "DDL"),
        ("SHOW TABLES", "DDL"),
        ("DESCRIBE t", "DDL"),
        ("SELECT 'a;b' AS x", "DML"),
        ('SELECT "we;ird" FROM t', "DML"),
        ("SELECT 'it''s;' -- ; trailing", "DML"),
    ],
)
def test_statement_class(sql: str, expected: str) -> None:
    assert classify_statement(sql) is expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "must contain a statement"),
        ("   \n\t ", "must contain a statement"),
        ("-- only a comment", "must contain a statement"),
        (";", "must contain a statement"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT 1;;", "exactly one statement"),
        ("SELECT 1; DROP TABLE t", "exactly one statement"),
        ("SELECT '1", "unterminated ' quote"),
        ("SELECT 1 /* open", "unterminated /\\* comment"),
        ("SELECT \x00 1", "NUL"),
        ("GRANT ALL ON t TO x", "unsupported statement 'GRANT'"),
        ("SELECT '\ud800'", "valid UTF-8"),
    ],
)
def test_invalid_statements_are_explained(sql: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        classify_statement(sql)


def test_size_limit_is_athenas_in_utf8_bytes() -> None:
    head = "SELECT '"
    fits = head + "x" * (MAX_QUERY_BYTES - len(head) - 1) + "'"
    assert classify_statement(fits) == "DML"
    with pytest.raises(PayloadTooLarge, match="262145 bytes"):
        classify_statement(fits + " ")
    # multi-byte characters count in bytes, not characters
    with pytest.raises(PayloadTooLarge):
        classify_statement(head + "é" * (MAX_QUERY_BYTES // 2) + "'")
