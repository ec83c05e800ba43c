#!/usr/bin/env python3
"""The operator's what-if tool: compare admission policies on a scenario of Athena's quota.

    scripts/simulate.py --scenario scripts/scenarios/steady.json --policies fairshare,fifo,seed000 --json
    scripts/simulate.py --scenario all                      # every scenario, rich tables and the targets
    scripts/simulate.py --scenario scripts/scenarios/heavy_vs_light.json --live --speed 50

`--json` prints exactly one JSON document: for one scenario `{"scenario", "policies"}`; for several,
`{"scenarios": [<one per scenario>], "checks": [...]}`. The engine and the metric definitions live in
`fairshare_tools.simulation` (see `fairshare_tools/simulation/metrics.py`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import click
from fairshare_tools.simulation import (
    POLICIES,
    PolicyName,
    Scenario,
    ScenarioError,
    SimulationView,
    load_scenario,
    simulate,
)
from fairshare_tools.simulation.report import (
    checks_table,
    live_board,
    policy_table,
    tenant_table,
    timeline_table,
)
from fairshare_tools.simulation.targets import evaluate
from rich.console import Console
from rich.live import Live

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"


def _scenario_paths(scenario: str) -> list[Path]:
    if scenario == "all":
        paths = sorted(SCENARIOS_DIR.glob("*.json"))
        if not paths:
            raise click.BadParameter(f"no scenario files in {SCENARIOS_DIR}", param_hint="--scenario")
        return paths
    return [Path(scenario)]


def _policies(value: str) -> list[PolicyName]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown policy {', '.join(unknown) or '(none)'}; choose from {','.join(POLICIES)}",
            param_hint="--policies",
        )
    return cast(list[PolicyName], names)


def _run_live(
    scenario: Scenario, policies: list[PolicyName], speed: float, console: Console, timeline_s: float | None
) -> dict[str, Any]:
    """Run with a live board during the fairshare run, paced at `speed` simulated seconds per second."""
    observe_every_s = max(0.1, speed / 10.0)
    started = time.monotonic()
    with Live(console=console, refresh_per_second=10, transient=False) as live:

        def observe(view: SimulationView) -> None:
            delay = started + view.now / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            live.update(live_board(view, scenario.name))

        return simulate(
            scenario, policies, observer=observe, observe_every_s=observe_every_s, timeline_s=timeline_s
        )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--scenario", "scenario_arg", required=True, help="a scenario JSON file, or 'all' for every bundled one"
)
@click.option(
    "--policies", "policies_arg", default=",".join(POLICIES), show_default=True, help="comma-separated"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON document to stdout instead of tables")
@click.option("--live", is_flag=True, help="show a live board during the fairshare run")
@click.option(
    "--timeline",
    "timeline_s",
    type=click.FloatRange(min=1.0),
    help="also report DML utilization per bucket of this many seconds",
)
@click.option(
    "--speed", default=50.0, show_default=True, type=click.FloatRange(min=0.1), help="sim-seconds per second"
)
def main(
    scenario_arg: str, policies_arg: str, as_json: bool, live: bool, timeline_s: float | None, speed: float
) -> None:
    """Compare admission policies on the same arrivals of Athena's quota."""
    policies = _policies(policies_arg)
    if live and as_json:
        raise click.UsageError("--live and --json exclude each other")
    if live and "fairshare" not in policies:
        raise click.UsageError("--live shows the fairshare run; include fairshare in --policies")
    try:
        scenarios = [load_scenario(path) for path in _scenario_paths(scenario_arg)]
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None

    # Wide enough for the tables when the output is a file or a pipe (make sim | tee).
    console = Console(width=None if sys.stdout.isatty() else 160)
    results = []
    for scenario in scenarios:
        if live:
            results.append(_run_live(scenario, policies, speed, console, timeline_s))
        else:
            results.append(simulate(scenario, policies, timeline_s=timeline_s))
    checks = evaluate(results, {scenario.name: scenario for scenario in scenarios})

    if as_json:
        if len(results) == 1:
            document: dict[str, Any] = results[0]
        else:
            document = {"scenarios": results, "checks": [asdict(check) for check in checks]}
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for result in results:
        console.print(policy_table(result))
        console.print(tenant_table(result))
        if timeline_s is not None:
            console.print(timeline_table(result))
    if checks:
        console.print(checks_table(checks))


if __name__ == "__main__":
    main()
