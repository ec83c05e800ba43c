"""How `tenantctl` shows things: progress lines, tables, CSV and JSON lines. Pure functions where possible."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from rich.console import Console
from rich.table import Column as Column_
from rich.table import Table

from fairshare_tools.client import Column, QueryStatus, Row, Usage

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def stdout_console() -> Console:
    """The terminal's width on a terminal; 160 columns on a pipe, where 80 would squeeze ids and times."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(width=160, highlight=False)


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1000 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def human_ms(value: int | None) -> str:
    return "-" if value is None else human_duration(value / 1000)


def iso_time(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def progress_line(status: QueryStatus, elapsed_s: float) -> str:
    """The live line of `wait`: state, queue position, elapsed time and bytes scanned."""
    position = f"#{status.position}" if status.position is not None else "-"
    return (
        f"{status.query_id}  {status.status:<9}  position {position}  "
        f"elapsed {human_duration(elapsed_s)}  scanned {human_bytes(status.bytes_scanned)}"
    )


def status_table(status: QueryStatus) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    error = f"{status.error.code}: {status.error.message}" if status.error else "-"
    for name, value in (
        ("query_id", status.query_id),
        ("status", status.status),
        ("position", "-" if status.position is None else str(status.position)),
        ("priority", _text(status.priority)),
        ("database", _text(status.database)),
        ("statement_class", _text(status.statement_class)),
        (
            "submitted_by",
            _text(status.submitted_by)
            + (" (self-declared)" if status.submitted_by_source == "declared" else ""),
        ),
        ("submitted_at", iso_time(status.submitted_at)),
        ("queued", human_ms(status.timings.queued_ms)),
        ("athena_queue", human_ms(status.timings.athena_queue_ms)),
        ("engine", human_ms(status.timings.engine_ms)),
        ("bytes_scanned", human_bytes(status.bytes_scanned)),
        ("athena_execution_id", _text(status.athena_execution_id)),
        ("error", error),
    ):
        table.add_row(name, value)
    return table


def list_table(queries: Iterable[QueryStatus]) -> Table:
    table = Table("status", "prio", "database", "submitted_at", "queued", "engine", "scanned")
    # Query ids are copied into other commands: never wrap them.
    table.columns.insert(0, Column_("query_id", no_wrap=True, min_width=36))
    for q in queries:
        table.add_row(
            q.query_id,
            q.status,
            _text(q.priority),
            _text(q.database),
            iso_time(q.submitted_at),
            human_ms(q.timings.queued_ms),
            human_ms(q.timings.engine_ms),
            human_bytes(q.bytes_scanned),
        )
    return table


def usage_table(usage: Usage) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    budget = human_bytes(usage.daily_bytes_budget) if usage.daily_bytes_budget else "none"
    limits = ", ".join(f"{pool} {value}" for pool, value in sorted(usage.effective_limit.items())) or "-"
    for name, value in (
        ("tenant", usage.tenant),
        ("weight", _text(usage.weight)),
        ("running", str(usage.running)),
        ("queued", str(usage.queued)),
        ("share", "-" if usage.share is None else f"{usage.share:.1%}"),
        ("bytes_today", f"{human_bytes(usage.bytes_today)} of {budget}"),
        ("effective_limit", limits),
    ):
        table.add_row(name, value)
    return table


def rows_table(columns: list[Column], rows: Iterable[Row], max_rows: int) -> tuple[Table, int]:
    """A table of at most `max_rows` rows; also returns how many rows were left out (of those read)."""
    table = Table(*[c.name for c in columns] or ["(no columns)"])
    left_out = 0
    for index, row in enumerate(rows):
        if index >= max_rows:
            left_out += 1
            continue
        table.add_row(*["NULL" if cell is None else str(cell) for cell in row])
    return table, left_out


def write_csv(columns: list[Column], rows: Iterable[Row], sink: IO[str]) -> int:
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    count = 0
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
        count += 1
    return count


def json_lines(columns: list[Column], rows: Iterable[Row]) -> Iterator[str]:
    names = [c.name for c in columns]
    for row in rows:
        yield json.dumps(dict(zip(names, row, strict=False)))


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _text(value: object) -> str:
    return "-" if value is None else str(value)
