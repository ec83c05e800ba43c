"""What Athena decides from the SQL text alone: the quota pool, the StatementType, and our test hints.

The pool rule is the one of `fairshare.domain.statements` (the platform's classifier); the emulator runs in
LocalStack's interpreter where the platform package is not installed, so the keyword rule is repeated here
and `tests/emulator/test_statements.py` checks that both agree on a shared corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Pool = Literal["DML", "DDL"]
StatementType = Literal["DML", "DDL", "UTILITY"]

# Athena counts these against the DDL pool; CTAS (CREATE TABLE ... AS) and everything else is DML.
DDL_KEYWORDS = frozenset({"ALTER", "CREATE", "DESCRIBE", "DESC", "DROP", "MSCK", "SHOW"})
_UTILITY_KEYWORDS = frozenset({"SHOW", "DESCRIBE", "DESC", "EXPLAIN"})
_CTAS = re.compile(
    r"^CREATE\s+(?:EXTERNAL\s+)?TABLE\b.*?\bAS\b\s*(?:\(\s*)?(?:SELECT|WITH|VALUES)\b", re.I | re.S
)
_COMMENT_OR_LITERAL = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.S)
_HINT_COMMENT = re.compile(r"/\*(.*?)\*/", re.S)
_HINT = re.compile(r"(\w+)=([^\s,*]+)")
# Statements the emulator accepts and completes without effect (DDL, writes); SHOW lists the registry and
# everything else runs on DuckDB, so bad SQL fails with a SYNTAX_ERROR as on Athena.
NO_OP_KEYWORDS = frozenset(
    {"ALTER", "CREATE", "DROP", "MSCK", "DESCRIBE", "DESC", "EXPLAIN", "INSERT", "UNLOAD", "UPDATE", "DELETE",
     "MERGE", "VACUUM", "OPTIMIZE", "PREPARE", "EXECUTE", "DEALLOCATE"}
)  # fmt: skip


def skeleton(sql: str) -> str:
    """The statement with comments and quoted text blanked out, trimmed, without a trailing `;`."""
    body = _COMMENT_OR_LITERAL.sub(lambda m: " " if m.group(0)[0] in "-/" else "''", sql).strip()
    return body[:-1].rstrip() if body.endswith(";") else body


def first_keyword(sql: str) -> str:
    body = skeleton(sql)
    if body.startswith("("):
        return "("
    parts = re.split(r"[\s(]+", body, maxsplit=1)
    return parts[0].upper() if parts else ""


def pool_of(sql: str) -> Pool:
    body = skeleton(sql)
    keyword = first_keyword(sql)
    if keyword == "CREATE" and _CTAS.match(body):
        return "DML"
    return "DDL" if keyword in DDL_KEYWORDS else "DML"


def statement_type_of(sql: str) -> StatementType:
    keyword = first_keyword(sql)
    if keyword in _UTILITY_KEYWORDS:
        return "UTILITY"
    return "DDL" if pool_of(sql) == "DDL" else "DML"


@dataclass(slots=True, frozen=True)
class Hints:
    """Per-query overrides written as `/* fairshare:duration=2.5 queue=0.2 fail=REASON scanned=1024 */`."""

    run_seconds: float | None = None
    queue_seconds: float | None = None
    fail_reason: str | None = None
    scanned_bytes: int | None = None


def parse_hints(sql: str) -> Hints:
    values: dict[str, str] = {}
    for comment in _HINT_COMMENT.findall(sql):
        if "fairshare:" not in comment:
            continue
        for key, value in _HINT.findall(comment.split("fairshare:", 1)[1].replace("fairshare:", " ")):
            values[key.lower()] = value
    return Hints(
        run_seconds=_non_negative_float(values.get("duration")),
        queue_seconds=_non_negative_float(values.get("queue")),
        fail_reason=values.get("fail"),
        scanned_bytes=int(values["scanned"]) if values.get("scanned", "").isdigit() else None,
    )


def _non_negative_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None
