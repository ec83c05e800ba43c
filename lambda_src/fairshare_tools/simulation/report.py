"""Rich renderings of simulation results: the policy comparison, per-tenant detail, checks, live board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fairshare_tools.simulation.engine import SimulationView
from fairshare_tools.simulation.targets import Check


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def policy_table(document: Mapping[str, Any]) -> Table:
    table = Table(title=f"scenario {document['scenario']}: policies", title_justify="left")
    for column in ("policy", "limit", "max active", "util", "ceiling", "util/ceil", "jain"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for column in ("throttles/1000", "inversions", "completed/submitted", "min eff. limit"):
        table.add_column(column, justify="right")
    for policy, metrics in document["policies"].items():
        over = metrics["max_active"] > metrics["limit"]
        jain = metrics["jain_index"]
        table.add_row(
            policy,
            str(metrics["limit"]),
            Text(str(metrics["max_active"]), style="red" if over else ""),
            f"{metrics['utilization']:.4f}",
            f"{metrics['utilization_ceiling']:.4f}",
            f"{_ratio(metrics['utilization'], metrics['utilization_ceiling']):.4f}",
            "-" if jain is None else f"{jain:.4f}",
            f"{metrics['throttles_per_1000_starts']:.1f}",
            str(metrics["priority_inversions"]),
            f"{metrics['completed']}/{metrics['submitted']}",
            str(metrics["pools"]["DML"]["min_effective_limit"]),
        )
    return table


def tenant_table(document: Mapping[str, Any]) -> Table:
    table = Table(title=f"scenario {document['scenario']}: tenants", title_justify="left")
    for column in ("tenant", "w/Σw", "policy", "share", "admitted", "backlogged", "wait p50 s", "wait p99 s"):
        table.add_column(column, justify="left" if column in ("tenant", "policy") else "right")
    policies: Mapping[str, Any] = document["policies"]
    first = next(iter(policies.values()))
    total_weight = sum(stats["weight"] for stats in first["tenants"].values())
    for tenant, stats in first["tenants"].items():
        for index, (policy, metrics) in enumerate(policies.items()):
            row = metrics["tenants"][tenant]
            table.add_row(
                tenant if index == 0 else "",
                f"{stats['weight'] / total_weight:.3f}" if index == 0 else "",
                policy,
                f"{row['share']:.3f}",
                str(row["admitted"]),
                "yes" if row["backlogged"] else "no",
                f"{row['wait_p50_s']:.2f}",
                f"{row['wait_p99_s']:.2f}",
                end_section=index == len(policies) - 1,
            )
    return table


def timeline_table(document: Mapping[str, Any]) -> Table:
    """DML utilization per time bucket, one row per policy ('-': nothing of ours waited)."""
    policies: Mapping[str, Any] = document["policies"]
    first = next(iter(policies.values()))["utilization_timeline"]
    bucket_s = first["bucket_s"]
    table = Table(
        title=f"scenario {document['scenario']}: DML utilization per {bucket_s:g} s", title_justify="left"
    )
    table.add_column("policy")
    for index in range(len(first["values"])):
        table.add_column(f"{index * bucket_s:g}", justify="right")
    for policy, metrics in policies.items():
        values = metrics["utilization_timeline"]["values"]
        table.add_row(policy, *("-" if value is None else f"{value:.2f}" for value in values))
    return table


def checks_table(checks: Sequence[Check]) -> Table:
    table = Table(title="targets", title_justify="left")
    table.add_column("check")
    table.add_column("target", justify="right")
    table.add_column("measured")
    table.add_column("", justify="center")
    for check in checks:
        verdict = {True: Text("ok", "green"), False: Text("MISSED", "bold red"), None: Text("info", "dim")}
        table.add_row(check.check, check.target, check.measured, verdict[check.ok])
    return table


def live_board(view: SimulationView, scenario: str) -> RenderableType:
    """Per-tenant queued and running, the effective limit, throttles, and shares against weights."""
    header = Table.grid(padding=(0, 2))
    header.add_row(
        Text(f"{scenario} · policy {view.policy}", style="bold"),
        Text(f"t = {view.now:7.1f} s of {view.duration_s:g} s"),
        ProgressBar(total=view.duration_s, completed=view.now, width=30),
    )
    pools = Table.grid(padding=(0, 2))
    for pool in ("DML", "DDL"):
        pools.add_row(
            Text(pool, style="bold"),
            f"ours active {view.athena_ours[pool]:>4}",
            f"foreign {view.athena_foreign[pool]:>4}",
            f"quota {view.quota[pool]:>4}",
            Text(
                f"effective limit {view.effective_limit[pool]:>4} / {view.limit[pool]}",
                style="yellow" if view.effective_limit[pool] < view.limit[pool] else "green",
            ),
        )
    rate = 1000.0 * view.throttles / view.starts if view.starts else 0.0
    pools.add_row(
        Text("starts", style="bold"), str(view.starts), f"throttles {view.throttles}", f"{rate:.1f}/1000", ""
    )

    tenants = Table(expand=False)
    for column in (
        "tenant",
        "weight",
        "queued",
        "running",
        "admitted",
        "share so far",
        "w/Σw",
        "running / limit",
    ):
        tenants.add_column(column, justify="left" if column in ("tenant", "running / limit") else "right")
    total_weight = sum(tenant.weight for tenant in view.tenants)
    total_slot_seconds = sum(tenant.slot_seconds for tenant in view.tenants)
    limit = max(1, view.limit["DML"])
    for tenant in view.tenants:
        tenants.add_row(
            tenant.name,
            f"{tenant.weight:g}",
            str(tenant.queued),
            str(tenant.running),
            str(tenant.admitted),
            f"{_ratio(tenant.slot_seconds, total_slot_seconds):.3f}",
            f"{tenant.weight / total_weight:.3f}",
            ProgressBar(total=limit, completed=min(limit, tenant.running), width=30),
        )
    return Panel(Group(header, pools, tenants), title="athena-fairshare simulator (live)")
