"""tenantctl: submit, watch, fetch and cancel Athena queries through the fairshare tenant API.

Exit codes: 0 success; 1 an API or configuration error (one line `error: <code>: <message>`);
2 a usage error; 3 a query ended FAILED or CANCELLED; 4 a wait timed out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fairshare_tools.cli import render
from fairshare_tools.cli.settings import (
    ENV_API_KEY,
    ENV_CONFIG,
    ENV_ENDPOINT,
    ENV_PROFILE,
    SettingsError,
    resolve_settings,
)
from fairshare_tools.client import ApiError, BatchOutcome, Client, QueryStatus, WaitTimeout, parse_query_file

EXIT_API_ERROR = 1
EXIT_QUERY_FAILED = 3
EXIT_WAIT_TIMEOUT = 4
RESULT_FORMATS = ("csv", "json", "table")
CLIENT_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")  # as the API validates it (Athena's token length)


class CliError(click.ClickException):
    """One line on stderr, `error: <code>: <message>`, and a chosen exit code."""

    exit_code = EXIT_API_ERROR

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.code}: {self.message}", err=True)


class QueryDidNotSucceed(CliError):
    exit_code = EXIT_QUERY_FAILED


class WaitTimedOut(CliError):
    exit_code = EXIT_WAIT_TIMEOUT


class _Context:
    def __init__(self, factory: Callable[[], Client], stderr: Console, poll_interval_s: float) -> None:
        self._factory = factory
        self._client: Client | None = None
        self.stderr = stderr
        self.poll_interval_s = poll_interval_s

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _Group(click.Group):
    """Turns client errors raised anywhere in a command into the one-line form."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WaitTimeout as exc:
            raise WaitTimedOut(exc.code, exc.message) from exc
        except ApiError as exc:
            raise CliError(exc.code, exc.message) from exc
        except SettingsError as exc:
            raise CliError("config_error", str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--endpoint", envvar=ENV_ENDPOINT, help=f"API base URL (or ${ENV_ENDPOINT}, or the profile).")
@click.option("--api-key", envvar=ENV_API_KEY, help=f"tenant API key (or ${ENV_API_KEY}, or the profile).")
@click.option("--profile", envvar=ENV_PROFILE, help="table of the profile file to use (default: default).")
@click.option(
    "--config",
    "config_path",
    envvar=ENV_CONFIG,
    type=click.Path(dir_okay=False, path_type=Path),
    help="profile file (default: ~/.config/tenantctl/config.toml).",
)
@click.option(
    "--timeout",
    "http_timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="seconds per HTTP request.",
)
@click.option(
    "--poll-interval",
    envvar="TENANTCTL_POLL_INTERVAL",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="first pause between status polls while waiting (then x1.5 up to 5 s).",
)
@click.option(
    "--user",
    envvar="TENANTCTL_USER",
    default=None,
    help="who is submitting, recorded with each query as self-declared (default: $FAIRSHARE_USER or "
    "the login name).",
)
@click.version_option(package_name="athena-fairshare", prog_name="tenantctl")
@click.pass_context
def cli(
    ctx: click.Context,
    endpoint: str | None,
    api_key: str | None,
    profile: str | None,
    config_path: Path | None,
    http_timeout: float,
    poll_interval: float,
    user: str | None,
) -> None:
    """Submit Athena queries to the fairshare platform and follow them, as one tenant."""

    def factory() -> Client:
        settings = resolve_settings(
            endpoint=endpoint, api_key=api_key, profile=profile, config_path=config_path
        )
        if not settings.api_key:
            raise SettingsError(
                f"no API key: pass --api-key, set ${ENV_API_KEY}, or add api_key to [{settings.profile}]"
            )
        return Client(settings.endpoint, settings.api_key, timeout_s=http_timeout, user=user)

    state = _Context(factory, Console(stderr=True, soft_wrap=True), poll_interval)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _state(ctx: click.Context) -> _Context:
    obj = ctx.find_object(_Context)
    assert obj is not None
    return obj


def _out() -> Console:
    return render.stdout_console()


def _read_sql(sql: str) -> str:
    if sql == "-":
        return sys.stdin.read()
    if sql.startswith("@"):
        try:
            return Path(sql[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {sql[1:]}: {exc.strerror}", param_hint="SQL") from exc
        except UnicodeDecodeError as exc:
            raise click.BadParameter(
                f"{sql[1:]} is not UTF-8 text (byte {exc.start}: {exc.reason})", param_hint="SQL"
            ) from exc
    return sql


def _wait_live(state: _Context, query_id: str, timeout_s: float | None) -> QueryStatus:
    """Poll with a live line on a terminal; on a pipe, one line per change of state."""
    console = state.stderr
    if console.is_terminal:
        elapsed = [0.0]
        with console.status(f"{query_id}  waiting") as live:

            def update(status: QueryStatus, seconds: float) -> None:
                elapsed[0] = seconds
                live.update(render.progress_line(status, seconds))

            final = state.client.wait(
                query_id, timeout_s=timeout_s, poll_interval_s=state.poll_interval_s, on_update=update
            )
        console.print(render.progress_line(final, elapsed[0]), highlight=False)
        return final
    last: list[str] = []

    def changed(status: QueryStatus, elapsed: float) -> None:
        if not last or last[-1] != status.status:
            last.append(status.status)
            click.echo(render.progress_line(status, elapsed), err=True)

    return state.client.wait(
        query_id, timeout_s=timeout_s, poll_interval_s=state.poll_interval_s, on_update=changed
    )


def _fail_unless_succeeded(final: QueryStatus) -> None:
    if final.status == "SUCCEEDED":
        return
    if final.error is not None:
        raise QueryDidNotSucceed(final.error.code, final.error.message or final.status)
    raise QueryDidNotSucceed(final.status.lower(), f"query {final.query_id} ended {final.status}")


def _emit_results(
    state: _Context,
    query_id: str,
    fmt: Literal["csv", "json", "table"],
    output: Path | None,
    source: Literal["download", "pages"],
    max_rows: int,
) -> None:
    client = state.client
    if output is not None and fmt == "csv" and source == "download":
        with output.open("wb") as sink:
            size = client.download(query_id, sink)
        click.echo(f"wrote {render.human_bytes(size)} to {output}", err=True)
        return
    columns, rows = client.open_results(query_id, source=source)
    if fmt == "table":
        table, left_out = render.rows_table(columns, rows, max_rows)
        _out().print(table)
        if left_out:
            click.echo(f"({left_out} more rows not shown; use --format csv or --max-rows)", err=True)
        return
    with output.open("w", encoding="utf-8", newline="") if output else _Stdout() as sink:
        if fmt == "csv":
            count = render.write_csv(columns, rows, sink)
        else:
            count = 0
            for line in render.json_lines(columns, rows):
                sink.write(line + "\n")
                count += 1
    if output is not None:
        click.echo(f"wrote {count} rows to {output}", err=True)


class _Stdout:
    """stdout as a context manager that does not close it."""

    def __enter__(self) -> Any:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(RESULT_FORMATS),
    default="table",
    show_default=True,
    help="csv and json (one object per line) stream; table shows the first --max-rows.",
)
_output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="write the results to this file (CSV unless --format json).",
)
_source_option = click.option(
    "--source",
    type=click.Choice(["download", "pages"]),
    default="download",
    show_default=True,
    help="download streams the CSV through the presigned URL; pages walks the API's pages.",
)
_max_rows_option = click.option("--max-rows", type=click.IntRange(min=1), default=100, show_default=True)
_wait_timeout_option = click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="give up waiting after this many seconds.",
)


@cli.command()
@click.argument("sql")
@click.option(
    "--database",
    "-d",
    envvar="TENANTCTL_DATABASE",
    default="default",
    show_default=True,
    help="Athena database.",
)
@click.option(
    "--priority", "-p", type=click.IntRange(min=0, max=9), help="higher runs first within the tenant."
)
@click.option(
    "--client-token", help="idempotency token (32-128 of [A-Za-z0-9_-]); the same token, the same query."
)
@click.option("--wait", "-w", is_flag=True, help="wait with a live progress line, then show the results.")
@_wait_timeout_option
@_output_option
@_format_option
@_source_option
@_max_rows_option
@click.pass_context
def submit(
    ctx: click.Context,
    sql: str,
    database: str,
    priority: int | None,
    client_token: str | None,
    wait: bool,
    wait_timeout: float | None,
    output: Path | None,
    fmt: Literal["csv", "json", "table"],
    source: Literal["download", "pages"],
    max_rows: int,
) -> None:
    """Submit SQL (a string, @file.sql, or - for stdin); prints the query id."""
    if not database.strip():
        # the client would send its default database instead: an unset variable must not pick one
        raise click.BadParameter("must not be empty", param_hint="--database")
    if client_token is not None and not CLIENT_TOKEN.fullmatch(client_token):
        raise click.BadParameter("must be 32 to 128 characters of [A-Za-z0-9_-]", param_hint="--client-token")
    if output is not None and not wait:
        raise click.UsageError("--output needs --wait (or use `tenantctl results ID --output FILE`)")
    state = _state(ctx)
    submission = state.client.submit(
        _read_sql(sql), database=database, priority=priority, client_token=client_token
    )
    position = f", position {submission.position}" if submission.position is not None else ""
    click.echo(f"submitted {submission.query_id}: {submission.status}{position}", err=True)
    if not wait:
        click.echo(submission.query_id)
        return
    final = _wait_live(state, submission.query_id, wait_timeout)
    _fail_unless_succeeded(final)
    if output is not None and fmt == "table":
        fmt = "csv"
    _emit_results(state, final.query_id, fmt, output, source, max_rows)


@cli.command()
@click.argument("query_id")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON.")
@click.pass_context
def status(ctx: click.Context, query_id: str, as_json: bool) -> None:
    """Show one query: state, position, timings, bytes scanned, error."""
    current = _state(ctx).client.status(query_id)
    if as_json:
        click.echo(render.to_json(current.model_dump()))
    else:
        _out().print(render.status_table(current))


@cli.command()
@click.argument("query_id")
@_wait_timeout_option
@click.pass_context
def wait(ctx: click.Context, query_id: str, wait_timeout: float | None) -> None:
    """Wait for a query with a live line (state, position, elapsed, scanned); exit 0 only if SUCCEEDED."""
    _fail_unless_succeeded(_wait_live(_state(ctx), query_id, wait_timeout))


@cli.command()
@click.argument("query_id")
@_format_option
@_output_option
@_source_option
@_max_rows_option
@click.pass_context
def results(
    ctx: click.Context,
    query_id: str,
    fmt: Literal["csv", "json", "table"],
    output: Path | None,
    source: Literal["download", "pages"],
    max_rows: int,
) -> None:
    """Fetch the rows of a SUCCEEDED query."""
    if output is not None and fmt == "table":
        fmt = "csv"
    _emit_results(_state(ctx), query_id, fmt, output, source, max_rows)


@cli.command()
@click.argument("query_id")
@click.pass_context
def cancel(ctx: click.Context, query_id: str) -> None:
    """Cancel a query: dequeued if QUEUED, stopped in Athena if RUNNING."""
    answer = _state(ctx).client.cancel(query_id)
    click.echo(f"{answer.query_id} {answer.status}")


@cli.command("list")
@click.option(
    "--status",
    "status_filter",
    type=click.Choice(
        ["QUEUED", "ADMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"], case_sensitive=False
    ),
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, status_filter: str | None, limit: int, as_json: bool) -> None:
    """List your own queries, newest first."""
    found = list(
        _state(ctx).client.list_queries(status=status_filter.upper() if status_filter else None, limit=limit)
    )
    if as_json:
        click.echo(render.to_json([q.model_dump() for q in found]))
    else:
        _out().print(render.list_table(found))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def usage(ctx: click.Context, as_json: bool) -> None:
    """Your running and queued queries, share, bytes today against the budget, effective limits."""
    current = _state(ctx).client.usage()
    if as_json:
        click.echo(render.to_json(current.model_dump()))
    else:
        _out().print(render.usage_table(current))


@cli.command("submit-many")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--database",
    "-d",
    envvar="TENANTCTL_DATABASE",
    default="default",
    show_default=True,
    help="database of the statements that do not name one.",
)
@click.option("--concurrency", "-c", type=click.IntRange(min=1, max=256), default=8, show_default=True)
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait for every query to finish.")
@_wait_timeout_option
@click.option("--json", "as_json", is_flag=True, help="print the outcomes as JSON.")
@click.pass_context
def submit_many(
    ctx: click.Context,
    file: Any,
    database: str | None,
    concurrency: int,
    wait: bool,
    wait_timeout: float | None,
    as_json: bool,
) -> None:
    """Run the queries of FILE in parallel, bounded, with one progress bar.

    FILE holds SQL statements ended by `;` or JSON lines {"sql", "database", "priority", "client_token"}.
    """
    try:
        specs = parse_query_file(file, database=database)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from exc
    if not specs:
        raise click.BadParameter("no queries in the file", param_hint="FILE")
    state = _state(ctx)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=state.stderr, transient=False) as progress:
        task = progress.add_task("queries", total=len(specs))

        def done(outcome: BatchOutcome) -> None:
            progress.advance(task)

        outcomes = state.client.submit_many(
            specs,
            max_workers=concurrency,
            wait=wait,
            timeout_s=wait_timeout,
            poll_interval_s=state.poll_interval_s,
            on_done=done,
        )
    rows = [_outcome_row(o) for o in outcomes]
    if as_json:
        click.echo(render.to_json(rows))
    else:
        table = Table("#", "query_id", "status", "detail")
        for row in rows:
            table.add_row(str(row["index"]), row["query_id"] or "-", row["status"], row["detail"])
        _out().print(table)
    errors = sum(1 for o in outcomes if o.error is not None)
    failed = sum(1 for o in outcomes if o.error is None and not o.ok)
    click.echo(
        f"{len(outcomes) - errors - failed} ok, {failed} failed or cancelled, {errors} errors", err=True
    )
    if errors:
        ctx.exit(EXIT_API_ERROR)
    if failed:
        ctx.exit(EXIT_QUERY_FAILED)


def _outcome_row(outcome: BatchOutcome) -> dict[str, Any]:
    query_id = outcome.submission.query_id if outcome.submission else None
    if outcome.error is not None:
        return {
            "index": outcome.index,
            "query_id": query_id,
            "status": "ERROR",
            "detail": f"{outcome.error.code}: {outcome.error.message}",
        }
    if outcome.status is not None:
        error = outcome.status.error
        detail = (
            f"{error.code}: {error.message}" if error else render.human_bytes(outcome.status.bytes_scanned)
        )
        return {
            "index": outcome.index,
            "query_id": query_id,
            "status": outcome.status.status,
            "detail": detail,
        }
    assert outcome.submission is not None
    return {"index": outcome.index, "query_id": query_id, "status": outcome.submission.status, "detail": ""}


def main(argv: list[str] | None = None) -> NoReturn:
    cli.main(args=argv, prog_name="tenantctl")
    raise SystemExit(0)  # cli.main exits by itself in standalone mode


if __name__ == "__main__":
    main()
