"""The acceptance targets of the simulator, evaluated on measured results.

Each check reads the numbers a run produced; nothing here is computed differently from `metrics`.
A scenario counts as *saturated* when its saturated window covers at least 90% of the run; the
utilization target applies to every saturated scenario, those with foreign load included (where the
limit has to find the slots foreign load leaves), which also have their own throttle, utilization and
recovery targets.

Shares: in every scenario, each tenant backlogged through the saturated window should get, of the
slot-seconds the backlogged tenants got together, its weight's part of their weights (tenants that
are not backlogged take less than their share, and max-min fairness gives the rest to the backlogged
ones by weight).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fairshare_tools.simulation.scenario import Scenario

SATURATED_FRACTION = 0.9
UTILIZATION_RATIO_TARGET = 0.98
JAIN_TARGET = 0.999
SHARE_TOLERANCE = 0.03
LIGHT_WAIT_RATIO_TARGET = 0.1
FOREIGN_THROTTLES_TARGET = 5.0
FOREIGN_UTILIZATION_TARGET = 0.95
RECOVERY_TICKS_TARGET = 2


@dataclass(slots=True, frozen=True)
class Check:
    check: str
    target: str
    measured: str
    ok: bool | None  # None: informational, no target applies


def _saturated(document: Mapping[str, Any], duration_s: float) -> bool:
    start, end = document["saturated_window_s"]
    return bool(end - start >= SATURATED_FRACTION * duration_s)


def _light_tenant(fairshare: Mapping[str, Any]) -> str:
    tenants: Mapping[str, Any] = fairshare["tenants"]
    if "light" in tenants:
        return "light"
    return min(tenants, key=lambda name: tenants[name]["slot_seconds"])


def _recovery_s(limit_changes: Sequence[Sequence[float]], limit: int, left_at: float) -> float | None:
    """Seconds from `left_at` until the effective limit is back at `limit` (None: not within the run)."""
    before = [value for at, value in limit_changes if at <= left_at]
    if not before or before[-1] == limit:
        return 0.0
    for at, value in limit_changes:
        if at > left_at and value == limit:
            return at - left_at
    return None


def evaluate(results: Sequence[Mapping[str, Any]], scenarios: Mapping[str, Scenario]) -> list[Check]:
    """Evaluate the targets on simulate() documents, with each run's scenario by name."""
    by_name = {doc["scenario"]: doc["policies"] for doc in results}
    durations = {name: scenarios[name].duration_s for name in by_name}
    foreign = {name: bool(scenarios[name].foreign_load) for name in by_name}
    checks: list[Check] = []

    over = []
    runs = 0
    for name, policies in by_name.items():
        for policy, metrics in policies.items():
            if policy == "seed000":
                continue
            for pool, tally in metrics["pools"].items():
                runs += 1
                if tally["max_active"] > tally["limit"]:
                    over.append(f"{name}/{policy}/{pool} {tally['max_active']}>{tally['limit']}")
    checks.append(
        Check(
            "max_active <= limit, all policies but seed000, every scenario and pool",
            "always",
            "; ".join(over) if over else f"held in {runs} pool-runs",
            not over if runs else None,
        )
    )

    for name, policies in by_name.items():
        fairshare = policies.get("fairshare")
        if fairshare is None:
            continue
        ratio = (
            fairshare["utilization"] / fairshare["utilization_ceiling"]
            if fairshare["utilization_ceiling"]
            else 0
        )
        measured = f"{fairshare['utilization']:.4f} / {fairshare['utilization_ceiling']:.4f} = {ratio:.4f}"
        if not _saturated(fairshare, durations[name]):
            checks.append(Check(f"fairshare util/ceiling, {name} (not saturated)", "-", measured, None))
        else:
            checks.append(
                Check(
                    f"fairshare util/ceiling, {name}",
                    f">= {UTILIZATION_RATIO_TARGET}",
                    measured,
                    ratio >= UTILIZATION_RATIO_TARGET,
                )
            )

    for name, policies in by_name.items():
        fairshare = policies.get("fairshare")
        if fairshare is None:
            continue
        backlogged = {t: stats for t, stats in fairshare["tenants"].items() if stats["backlogged"]}
        if len(backlogged) < 2:
            continue
        total_weight = sum(stats["weight"] for stats in backlogged.values())
        total_share = sum(stats["share"] for stats in backlogged.values())
        parts: list[str] = []
        deviations: list[float] = []
        for tenant, stats in backlogged.items():
            expected = stats["weight"] / total_weight
            got = stats["share"] / total_share if total_share else 0.0
            deviation = (got - expected) / expected
            deviations.append(abs(deviation))
            if abs(deviation) > SHARE_TOLERANCE or len(parts) < 4:
                parts.append(f"{tenant} {got:.4f} vs {expected:.4f} ({deviation:+.1%})")
        worst = max(deviations)
        ok = total_share > 0 and worst <= SHARE_TOLERANCE
        shown = "; ".join(parts) + ("" if len(parts) == len(backlogged) else "; ...")
        checks.append(
            Check(
                f"fairshare backlogged shares, {name}",
                f"each within ±{SHARE_TOLERANCE:.0%} of w/Σw",
                f"worst {worst:.2%}: {shown}",
                ok,
            )
        )
        if _saturated(fairshare, durations[name]):
            jain = fairshare["jain_index"]
            checks.append(
                Check(
                    f"fairshare jain_index, {name}",
                    f">= {JAIN_TARGET}",
                    "null" if jain is None else f"{jain:.5f}",
                    jain is not None and jain >= JAIN_TARGET,
                )
            )

    heavy = by_name.get("heavy_vs_light", {})
    if "fairshare" in heavy and "seed000" in heavy:
        light = _light_tenant(heavy["fairshare"])
        ours = heavy["fairshare"]["tenants"][light]["wait_p99_s"]
        theirs = heavy["seed000"]["tenants"][light]["wait_p99_s"]
        ratio = ours / theirs if theirs > 0 else float("inf")
        checks.append(
            Check(
                f"{light} wait_p99_s fairshare / seed000, heavy_vs_light",
                f"<= {LIGHT_WAIT_RATIO_TARGET}",
                f"{ours:.3f} s / {theirs:.3f} s = {ratio:.4f}",
                ratio <= LIGHT_WAIT_RATIO_TARGET,
            )
        )

    for name, policies in by_name.items():
        fairshare = policies.get("fairshare")
        if fairshare is None:
            continue
        if not foreign[name]:
            rate = fairshare["throttles_per_1000_starts"]
            checks.append(
                Check(
                    f"fairshare throttles/1000 starts, {name}",
                    "0",
                    f"{rate:g} ({fairshare['throttles']})",
                    rate == 0,
                )
            )
        else:
            rate, utilization = fairshare["throttles_per_1000_starts"], fairshare["utilization"]
            checks.append(
                Check(
                    f"fairshare throttles and utilization, {name}",
                    f"<= {FOREIGN_THROTTLES_TARGET:g}/1000 and >= {FOREIGN_UTILIZATION_TARGET}",
                    f"{rate:.3f}/1000 ({fairshare['throttles']} of {fairshare['starts']}),"
                    f" util {utilization:.4f}",
                    rate <= FOREIGN_THROTTLES_TARGET and utilization >= FOREIGN_UTILIZATION_TARGET,
                )
            )
            scenario = scenarios[name]
            tick = scenario.tick_s
            for load in scenario.foreign_load:
                if load.end_s >= scenario.duration_s or scenario.foreign_demand(load.pool, load.end_s) > 0:
                    continue  # the load outlasts the run, or other foreign load stays after it
                tally = fairshare["pools"][load.pool]
                took = _recovery_s(tally["limit_changes"], tally["limit"], load.end_s)
                checks.append(
                    Check(
                        f"fairshare full limit after foreign load, {name} {load.pool} @{load.end_s:g}s",
                        f"<= {RECOVERY_TICKS_TARGET} ticks ({RECOVERY_TICKS_TARGET * tick:g} s)",
                        "never" if took is None else f"{took:.1f} s ({took / tick:.2f} ticks)",
                        took is not None and took <= RECOVERY_TICKS_TARGET * tick,
                    )
                )

    inversions = {
        name: policies["fairshare"]["priority_inversions"]
        for name, policies in by_name.items()
        if "fairshare" in policies
    }
    if inversions:
        checks.append(
            Check(
                "fairshare priority_inversions, every scenario",
                "0",
                ", ".join(f"{name} {count}" for name, count in inversions.items()),
                not any(inversions.values()),
            )
        )
    return checks
