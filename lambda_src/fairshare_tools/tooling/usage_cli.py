"""The command line of `scripts/usage_report.py`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from fairshare.config import ConfigError, parse_config
from rich.console import Console
from rich.table import Table

from fairshare_tools.cli.render import human_bytes, human_ms, stdout_console
from fairshare_tools.tooling.usage import (
    ALL_USERS,
    CrossCheck,
    UsageRow,
    aggregate,
    cross_check_athena,
    day_range_ms,
    fetch_records,
    plot,
    to_csv,
    to_json,
)


def usage_table(rows: list[UsageRow], start: date, end: date) -> Table:
    table = Table(title=f"usage {start} .. {end} (UTC)", title_justify="left")
    for name in (
        "tenant",
        "user",
        "queries",
        "ok",
        "failed",
        "cancelled",
        "active",
        "scanned",
        "scan p95",
        "engine",
        "wait p50",
        "wait p95",
        "databases",
    ):
        table.add_column(name, justify="right" if name not in {"tenant", "user", "databases"} else "left")
    has_athena = any(r.athena_bytes is not None for r in rows)
    if has_athena:
        table.add_column("athena scanned", justify="right")
    for row in rows:
        d = row.as_dict()
        cells = [
            row.tenant if row.user == ALL_USERS else "",
            "(all)" if row.user == ALL_USERS else row.user,
            str(row.queries),
            str(d["succeeded"]),
            str(d["failed"]),
            str(d["cancelled"]),
            str(d["running"] + d["admitted"] + d["queued"]),
            human_bytes(d["bytes_scanned"]),
            human_bytes(d["bytes_scanned_p95"]),
            human_ms(d["engine_ms"]),
            human_ms(d["queue_wait_ms_p50"]),
            human_ms(d["queue_wait_ms_p95"]),
            ", ".join(d["databases"]),
        ]
        if has_athena:
            cells.append(human_bytes(row.athena_bytes) if row.user == ALL_USERS else "")
        table.add_row(*cells, style="bold" if row.user == ALL_USERS else None)
    return table


def _resolve_table(table: str | None, config_file: Path | None) -> tuple[str, str | None]:
    if table:
        return table, None
    if config_file is None:
        raise click.UsageError("give --table (or $FAIRSHARE_QUERIES_TABLE) or --config FILE")
    try:
        config = parse_config(config_file.read_text(encoding="utf-8"), source=str(config_file))
    except (OSError, ConfigError) as exc:
        raise click.UsageError(str(exc)) from exc
    return config.queries_table, config.region


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--table", envvar="FAIRSHARE_QUERIES_TABLE", help="the ledger's queries table.")
@click.option(
    "--stage", help="take the table (and LocalStack's endpoint) from this stage's Terraform outputs."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="a stage's fairshare.json, for the table name and region.",
)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="first day (UTC), default today.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="last day (UTC), default today.")
@click.option("--days", type=click.IntRange(min=1), help="the last N days, today included.")
@click.option("--tenant", "tenants", multiple=True, help="only these tenants (uses the tenant_time index).")
@click.option("--no-users", is_flag=True, help="tenant totals only.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option("--athena", is_flag=True, help="cross-check bytes with Athena (BatchGetQueryExecution).")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True),
    help="write a bar chart of bytes and queries per tenant (PNG).",
)
@click.option("--region", envvar="AWS_REGION", help="AWS region (default: the config's, or boto3's).")
@click.option(
    "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (LocalStack: http://127.0.0.1:4566)."
)
def main(
    table: str | None,
    stage: str | None,
    config_file: Path | None,
    start: datetime | None,
    end: datetime | None,
    days: int | None,
    tenants: tuple[str, ...],
    no_users: bool,
    fmt: str,
    athena: bool,
    plot_path: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Per tenant and user: queries by final state, bytes scanned, engine time, queue wait, databases."""
    import boto3

    local: Any = None  # the stage's LocalStack session (`--stage local`), None on AWS
    if stage and not table:
        from fairshare_tools.tooling.deploy import DeployError, find_repo_root
        from fairshare_tools.tooling.stage import localstack_session, read_stage_access
        from fairshare_tools.tooling.terraform import TerraformFailed

        try:
            access = read_stage_access(find_repo_root(), stage)
        except (DeployError, TerraformFailed) as exc:
            raise click.ClickException(f"stage {stage}: {exc}") from exc
        table = access.queries_table
        region = region or access.region
        if access.aws_endpoint_url:
            local = localstack_session(endpoint_url or access.aws_endpoint_url, region or "us-east-1")
            endpoint_url = None  # the session's clients all reach LocalStack already
    table_name, config_region = _resolve_table(table, config_file)
    today = datetime.now(tz=UTC).date()
    last = end.date() if end else today
    first = start.date() if start else (last - timedelta(days=days - 1) if days else last)
    if start and days:
        raise click.UsageError("give --from or --days, not both")
    try:
        start_ms, end_ms = day_range_ms(first, last)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    session = local or boto3.session.Session(region_name=region or config_region)
    client_args: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        records = list(
            fetch_records(
                session.client("dynamodb", **client_args), table_name, start_ms, end_ms, list(tenants) or None
            )
        )
    except Exception as exc:  # botocore's errors: one clear line, not a traceback
        err.print(f"[red]error:[/] reading {table_name}: {exc}")
        raise SystemExit(1) from exc
    rows = aggregate(records, per_user=not no_users)
    check: CrossCheck | None = None
    if athena:
        try:
            check = cross_check_athena(session.client("athena", **client_args), records)
        except Exception as exc:
            err.print(f"[red]error:[/] Athena cross-check: {exc}")
            raise SystemExit(1) from exc
        for row in rows:
            if row.user == ALL_USERS:
                row.athena_bytes = check.athena_bytes_by_tenant.get(row.tenant, 0)
    if fmt == "json":
        click.echo(to_json(rows, first, last, check))
    elif fmt == "csv":
        click.echo(to_csv(rows), nl=False)
    else:
        stdout_console().print(usage_table(rows, first, last))
        err.print(f"{len(records)} queries from {table_name}")
    if check is not None:
        err.print(
            f"athena cross-check: {check.checked} executions checked, "
            f"{len(check.mismatches)} byte mismatches, "
            f"{len(check.unknown)} unknown to Athena"
        )
        for execution_id, ledger_bytes, athena_bytes in check.mismatches[:10]:
            err.print(f"  {execution_id}: ledger {ledger_bytes} B, Athena {athena_bytes} B")
    if plot_path:
        plot(rows, plot_path)
        err.print(f"wrote {plot_path}")
