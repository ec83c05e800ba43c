"""The command line of `scripts/loadgen.py`: a load plan from flags, a live view, a report."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from fairshare_tools.cli.render import stdout_console
from fairshare_tools.tooling.loadgen import (
    LoadGenerator,
    LoadPlan,
    LoadReport,
    Snapshot,
    TenantTarget,
    parse_mix,
)


def parse_tenants(
    pairs: tuple[str, ...], tenants_file: Path | None, stage_keys: Mapping[str, str] | None = None
) -> tuple[TenantTarget, ...]:
    """`--tenant NAME=KEY` flags and/or a JSON file `{"NAME": "KEY", ...}`; with a stage's keys,
    `--tenant NAME` picks that tenant's key, and no `--tenant` at all means every tenant of the stage."""
    found: dict[str, str] = {}
    if tenants_file is not None:
        try:
            document = json.loads(tenants_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise click.BadParameter(f"{tenants_file}: {exc}", param_hint="--tenants-file") from exc
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            want = '{"name": "api key"}'
            raise click.BadParameter(f"{tenants_file}: want {want}", param_hint="--tenants-file")
        found.update(document)
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep and stage_keys is not None and name in stage_keys:
            key = stage_keys[name]
        elif not sep or not name or not key:
            raise click.BadParameter(
                f"{pair!r}: want NAME=API_KEY (or a tenant of --stage)", param_hint="--tenant"
            )
        found[name] = key
    if not found and stage_keys:
        found.update(stage_keys)
    if not found:
        raise click.UsageError("no tenants: give --tenant NAME=KEY (repeatable), --tenants-file, or --stage")
    return tuple(TenantTarget(name, key) for name, key in sorted(found.items()))


def snapshot_line(snapshot: Snapshot) -> str:
    done = ", ".join(f"{status.lower()} {count}" for status, count in sorted(snapshot.by_status.items()))
    return (
        f"{snapshot.elapsed_s:6.1f}s  submitted {snapshot.submitted}/{snapshot.planned}  "
        f"accepted {snapshot.accepted}  errors {snapshot.errors}  active {snapshot.active}"
        + (f"  ({done})" if done else "")
        + (f"  lag {snapshot.schedule_lag_s:.2f}s" if snapshot.schedule_lag_s >= 0.5 else "")
    )


def live_table(snapshot: Snapshot) -> Table:
    """Per tenant: what the API says (weight, running, queued, share) and what this run saw."""
    table = Table(title=snapshot_line(snapshot), title_justify="left")
    for name in (
        "tenant",
        "weight",
        "running",
        "queued",
        "share",
        "accepted",
        "active",
        "ok",
        "failed",
        "errors",
    ):
        table.add_column(name, justify="left" if name == "tenant" else "right")
    for name, progress in snapshot.by_tenant.items():
        usage = snapshot.usage.get(name)
        api = (
            [
                f"{usage.weight:g}" if usage.weight is not None else "-",
                str(usage.running),
                str(usage.queued),
                "-" if usage.share is None else f"{usage.share:.0%}",
            ]
            if usage is not None
            else ["-"] * 4
        )
        table.add_row(
            name,
            *api,
            *(
                str(v)
                for v in (
                    progress.accepted,
                    progress.active,
                    progress.succeeded,
                    progress.failed,
                    progress.errors,
                )
            ),
        )
    return table


def report_table(report: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False, title="load test")
    table.add_column(style="bold")
    table.add_column()
    latency = report["submit_latency_ms"]
    rate = report["completion_rate"]
    rows = [
        ("tenants", str(report["tenants"])),
        (
            "mode",
            f"{report['mode']} ({report['rate_per_s']}/s)"
            if report["mode"] == "rate"
            else f"burst ({report['burst_per_tenant']} per tenant)",
        ),
        ("wall time", f"{report['wall_s']:.1f}s"),
        (
            "submitted / accepted",
            f"{report['submitted']} / {report['accepted']} of {report['planned']} planned",
        ),
        (
            "submit latency ms",
            f"p50 {latency['p50']}  p95 {latency['p95']}  p99 {latency['p99']}  max {latency['max']}",
        ),
        ("errors by code", ", ".join(f"{k} {v}" for k, v in report["errors_by_code"].items()) or "none"),
        ("final statuses", ", ".join(f"{k} {v}" for k, v in report["final_statuses"].items()) or "-"),
        ("completion rate", "-" if rate is None else f"{rate:.1%}"),
        ("end to end s", f"p50 {report['e2e_s']['p50']}  p95 {report['e2e_s']['p95']}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def tenant_table(report: dict[str, Any]) -> Table:
    table = Table("tenant", "planned", "accepted", "succeeded", "errors", "e2e p50 s", "e2e p95 s")
    for name, stats in report["per_tenant"].items():
        table.add_row(
            name,
            *[str(stats[k]) for k in ("planned", "accepted", "succeeded", "errors")],
            str(stats["e2e_p50_s"]),
            str(stats["e2e_p95_s"]),
        )
    return table


@contextmanager
def _interrupt_stops(generator: LoadGenerator) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        generator.stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--endpoint", envvar="TENANTCTL_ENDPOINT", help="the stage's tenant API base URL.")
@click.option("--stage", help="take the endpoint and tenants' API keys from this stage's Terraform outputs.")
@click.option("--tenant", "tenant_pairs", multiple=True, metavar="NAME=KEY", help="a tenant and its API key.")
@click.option(
    "--tenants-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='JSON {"name": "api key"}.',
)
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), help="submissions per second, all tenants."
)
@click.option("--burst", type=click.IntRange(min=1), help="queries per tenant, all at once.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="seconds of submissions (rate mode).",
)
@click.option(
    "--mix",
    default="1:1",
    show_default=True,
    help="emulated query seconds:weight, e.g. 0.5:6,5:3,30:1 (emulator hints).",
)
@click.option("--priorities", default="1:1", show_default=True, help="priority:weight, e.g. 0:1,1:3,2:1.")
@click.option(
    "--scanned", default="10485760", show_default=True, help="emulated bytes scanned:weight (emulator hint)."
)
@click.option("--database", default="default", show_default=True, help="Athena database of every query.")
@click.option(
    "--completion-timeout",
    type=click.FloatRange(min=0),
    default=120,
    show_default=True,
    help="seconds to wait for completions after the last submission.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="seconds between status polls of each active query.",
)
@click.option(
    "--poll-mode",
    type=click.Choice(["list", "get"]),
    default="list",
    show_default=True,
    help="list: GET /queries pages per tenant (light); get: GET /queries/{id} per active query.",
)
@click.option("--workers", type=click.IntRange(min=1, max=512), default=16, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--watch-usage",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="seconds between GET /usage per tenant for the live view (0: off).",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON on stdout.")
@click.option("--fake-api", is_flag=True, help="run against an in-process fake of the API (no platform).")
def main(
    endpoint: str | None,
    stage: str | None,
    tenant_pairs: tuple[str, ...],
    tenants_file: Path | None,
    rate: float | None,
    burst: int | None,
    duration: float,
    mix: str,
    priorities: str,
    scanned: str,
    database: str,
    completion_timeout: float,
    poll_interval: float,
    poll_mode: str,
    workers: int,
    seed: int,
    watch_usage: float,
    as_json: bool,
    fake_api: bool,
) -> None:
    """Load-test a stage's tenant API; exit 0 when every accepted query SUCCEEDED, 1 otherwise."""
    stage_keys: Mapping[str, str] | None = None
    if stage:
        from fairshare_tools.tooling.deploy import DeployError, find_repo_root
        from fairshare_tools.tooling.stage import read_stage_access
        from fairshare_tools.tooling.terraform import TerraformFailed

        try:
            access = read_stage_access(find_repo_root(), stage)
        except (DeployError, TerraformFailed) as exc:
            raise click.ClickException(f"stage {stage}: {exc}") from exc
        endpoint = endpoint or access.endpoint
        stage_keys = access.api_keys
    tenants = parse_tenants(tenant_pairs, tenants_file, stage_keys)
    if rate is None and burst is None:
        rate = 2.0
    if rate is not None and burst is not None:
        raise click.UsageError("give --rate or --burst, not both")
    try:
        plan = LoadPlan(
            tenants=tenants,
            duration_s=duration,
            rate_per_s=rate,
            burst=burst,
            durations=parse_mix(mix, float),
            priorities=parse_mix(priorities, int),
            scanned=parse_mix(scanned, int),
            database=database,
            completion_timeout_s=completion_timeout,
            poll_interval_s=poll_interval,
            poll_mode="get" if poll_mode == "get" else "list",
            max_workers=workers,
            seed=seed,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    with ExitStack() as stack:
        if fake_api:
            from fairshare_tools.tooling.fakeapi import FakeTenantApi, serve

            fake = FakeTenantApi(api_keys={t.api_key: t.name for t in tenants}, queue_s=0.2)
            endpoint = stack.enter_context(serve(fake))
        if not endpoint:
            raise click.UsageError("no endpoint: give --endpoint (or $TENANTCTL_ENDPOINT), or --fake-api")
        live = stack.enter_context(Live(console=console, refresh_per_second=4, transient=True))

        last_line = [0.0]

        def on_progress(snapshot: Snapshot) -> None:
            if console.is_terminal:
                live.update(live_table(snapshot))
            elif snapshot.elapsed_s - last_line[0] >= 5:
                last_line[0] = snapshot.elapsed_s
                console.print(snapshot_line(snapshot))

        generator = LoadGenerator(endpoint, plan, on_progress=on_progress, watch_usage_s=watch_usage or None)
        stack.enter_context(_interrupt_stops(generator))
        report: LoadReport = generator.run()
    summary = report.as_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        out = stdout_console()
        out.print(report_table(summary))
        out.print(tenant_table(summary))
    raise SystemExit(0 if summary["completion_rate"] == 1.0 else 1)
