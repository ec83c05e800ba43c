"""The tables a statement names, read with sqlglot's Athena dialect: submit's courtesy check of I-4.

The tenant's execution role is the boundary (Athena reads the catalog and the data with it); this check
only refuses, before anything is queued, what the role would refuse anyway, with a message that names
the table. A statement the parser cannot read is not refused for that alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

# Parsing costs about 1-2 ms per KB with sqlglot's compiled build; beyond this size the check is skipped
# and the statement goes on to Athena, where the tenant's role decides.
MAX_PARSED_BYTES = 65_536
DEFAULT_CATALOG = "awsdatacatalog"
# sqlglot warns for each statement it parses as an opaque Command; that outcome is handled below.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
# Loaded at import (a Lambda's init phase) rather than on the first submit: about 50 ms.
ATHENA = sqlglot.Dialect.get_or_raise("athena")


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
        tree = sqlglot.parse_one(sql, dialect=ATHENA)
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
