"""SQL statement checks done before a query is accepted: size, shape, and its Athena pool (DML/DDL)."""

from __future__ import annotations

import re

from fairshare.domain.errors import PayloadTooLarge, ValidationFailed
from fairshare.domain.model import PoolName

MAX_QUERY_BYTES = 262_144  # Athena's longest query string

# Athena counts these against the DDL pool; CTAS (CREATE TABLE ... AS) and everything else is DML.
_DDL_KEYWORDS = frozenset({"ALTER", "CREATE", "DESCRIBE", "DESC", "DROP", "MSCK", "SHOW"})
_DML_KEYWORDS = frozenset(
    {"SELECT", "WITH", "INSERT", "VALUES", "EXPLAIN", "UNLOAD", "UPDATE", "DELETE", "MERGE", "VACUUM",
     "OPTIMIZE", "TABLE", "PREPARE", "EXECUTE", "DEALLOCATE"}
)  # fmt: skip
_CTAS = re.compile(
    r"^CREATE\s+(?:EXTERNAL\s+)?TABLE\b.*?\bAS\b\s*(?:\(\s*)?(?:SELECT|WITH|VALUES)\b", re.I | re.S
)


def _strip_comments_and_literals(sql: str) -> tuple[str, int]:
    """Blank out comments and quoted text; return the code skeleton and the count of top-level `;`."""
    out: list[str] = []
    separators = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise ValidationFailed("sql has an unterminated /* comment")
            i = end + 2
            out.append(" ")
        elif ch in "'\"`":
            j = i + 1
            while True:
                j = sql.find(ch, j)
                if j < 0:
                    raise ValidationFailed(f"sql has an unterminated {ch} quote")
                if sql.startswith(ch * 2, j):  # doubled quote escapes itself
                    j += 2
                    continue
                break
            out.append(ch + ch)
            i = j + 1
        else:
            if ch == ";":
                separators += 1
            out.append(ch)
            i += 1
    return "".join(out), separators


def classify_statement(sql: str) -> PoolName:
    """Validate one SQL statement and return its pool. Raises ValidationFailed or PayloadTooLarge."""
    if not isinstance(sql, str):
        raise ValidationFailed("sql must be a string")
    if "\x00" in sql:
        raise ValidationFailed("sql must not contain NUL characters")
    try:
        size = len(sql.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationFailed("sql must be valid UTF-8") from exc
    if size > MAX_QUERY_BYTES:
        raise PayloadTooLarge(f"sql is {size} bytes; Athena accepts at most {MAX_QUERY_BYTES}")
    skeleton, separators = _strip_comments_and_literals(sql)
    body = skeleton.strip()
    if body.endswith(";"):
        body = body[:-1].rstrip()
        separators -= 1
    if not body:
        raise ValidationFailed("sql must contain a statement")
    if separators > 0:
        raise ValidationFailed("sql must hold exactly one statement (found ';' between statements)")
    keyword = re.split(r"[\s(]+", body.lstrip("("), maxsplit=1)[0].upper()
    if keyword == "CREATE" and _CTAS.match(body):
        return "DML"
    if keyword in _DDL_KEYWORDS:
        return "DDL"
    if keyword in _DML_KEYWORDS:
        return "DML"
    raise ValidationFailed(f"unsupported statement {keyword[:32]!r}")
