"""The table registry: `database.table` -> where its objects live in S3 and how they are encoded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["csv", "jsonl", "parquet"]
_FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")


@dataclass(slots=True, frozen=True)
class TableSpec:
    format: Format
    location: str  # s3://bucket/prefix/
    header: bool = True  # csv only: the first line names the columns
    delimiter: str = ","

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "location": self.location,
            "header": self.header,
            "delimiter": self.delimiter,
        }

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        return split_s3_uri(self.location)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


def parse_catalog(raw: Any) -> dict[str, TableSpec]:
    """Parse `{"db.table": {"format": "csv", "location": "s3://b/p/"}, ...}` (a mapping or its JSON text)."""
    document = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(document, Mapping):
        raise ValueError("the catalog must be a JSON object mapping 'database.table' to a table")
    tables = document["tables"] if isinstance(document.get("tables"), Mapping) else document
    parsed: dict[str, TableSpec] = {}
    for name, spec in tables.items():
        database, dot, table = str(name).partition(".")
        if not dot or not database or not table or "." in table:
            raise ValueError(f"table name {name!r} must be 'database.table'")
        if not isinstance(spec, Mapping):
            raise ValueError(f"table {name!r} must be an object with format and location")
        table_format = str(spec.get("format", "")).lower()
        if table_format not in _FORMATS:
            raise ValueError(f"table {name!r}: format must be one of {list(_FORMATS)}")
        location = str(spec.get("location", ""))
        split_s3_uri(location)
        delimiter = str(spec.get("delimiter", ","))
        if len(delimiter) != 1:
            raise ValueError(f"table {name!r}: delimiter must be one character")
        parsed[f"{database.lower()}.{table.lower()}"] = TableSpec(
            format=table_format,
            location=location if location.endswith("/") else location + "/",
            header=bool(spec.get("header", True)),
            delimiter=delimiter,
        )
    return parsed
