"""SQL statement checks done before a query is accepted: size, shape, its Athena pool (DML/DDL), and the
tables it names."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

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


# --- Table references (I-4's courtesy check; the tenant's execution role is the boundary) --------------
# Parsing costs about 1-2 ms per KB with sqlglot's compiled build; beyond this size the check is skipped
# and the statement goes on to Athena, where the tenant's role decides.
MAX_PARSED_BYTES = 65_536
DEFAULT_CATALOG = "awsdatacatalog"
# sqlglot warns for each statement it parses as an opaque Command; that outcome is handled below.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass(slots=True, frozen=True)
class TableReference:
    """A table a statement reads or writes, qualified: catalog, database and name in lower case."""

    catalog: str
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.database}.{self.name}"


def table_references(sql: str, default_database: str) -> list[TableReference] | None:
    """Every table the statement names (read or written; CTE names excluded), in the order of the text.

    None when the parser cannot read the statement (or it is longer than MAX_PARSED_BYTES): such a
    statement is not refused for that alone. Identifiers are case-insensitive in Athena.
    """
    if len(sql.encode("utf-8", "replace")) > MAX_PARSED_BYTES:
        return None
    try:
        tree = sqlglot.parse_one(sql, dialect="athena")
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
        return None
    if tree is None or isinstance(tree, exp.Command):
        return None  # sqlglot's fallback for syntax it does not model (SHOW, MSCK, UNLOAD, ...)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: list[TableReference] = []
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not name:
            continue  # a table function such as TABLE(...) or UNNEST
        database = table.db.lower()
        if not database and name in ctes:
            continue
        reference = TableReference(
            catalog=table.catalog.lower() or DEFAULT_CATALOG,
            database=database or default_database.lower(),
            name=name,
        )
        if reference not in found:
            found.append(reference)
    return found


def outside_databases(references: Sequence[TableReference], databases: Sequence[str]) -> list[TableReference]:
    """The references that are not in one of `databases` of the default catalog."""
    allowed = {d.lower() for d in databases}
    return [r for r in references if r.catalog != DEFAULT_CATALOG or r.database not in allowed]
