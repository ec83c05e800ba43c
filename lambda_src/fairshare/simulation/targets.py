"""The acceptance targets of the simulator (issue 2, section 3), evaluated on measured results.

Each check reads the numbers a run produced; nothing here is computed differently from `metrics`.
A scenario counts as *saturated* when its saturated window covers at least 90% of the run; the
utilization target applies to every saturated scenario, `foreign_load` included (where AIMD has to
find the slots foreign load leaves), which also has its own throttle and utilization targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SATURATED_FRACTION = 0.9
UTILIZATION_RATIO_TARGET = 0.98
JAIN_TARGET = 0.99
SHARE_TOLERANCE = 0.05
LIGHT_WAIT_RATIO_TARGET = 0.1
FOREIGN_THROTTLES_TARGET = 10.0
FOREIGN_UTILIZATION_TARGET = 0.9


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


def evaluate(
    results: Sequence[Mapping[str, Any]],
    durations: Mapping[str, float],
    foreign: Mapping[str, bool],
) -> list[Check]:
    """Evaluate the targets on simulate() documents.

    `durations` and `foreign` give, per scenario name, the run length and whether it has foreign load.
    """
    by_name = {doc["scenario"]: doc["policies"] for doc in results}
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

    steady = by_name.get("steady", {}).get("fairshare")
    if steady is not None:
        jain = steady["jain_index"]
        checks.append(
            Check(
                "fairshare jain_index, steady",
                f">= {JAIN_TARGET}",
                "null" if jain is None else f"{jain:.5f}",
                jain is not None and jain >= JAIN_TARGET,
            )
        )

    weighted = by_name.get("weighted", {}).get("fairshare")
    if weighted is not None:
        tenants = weighted["tenants"]
        total_weight = sum(t["weight"] for t in tenants.values())
        parts, ok = [], True
        for tenant, stats in tenants.items():
            expected = stats["weight"] / total_weight
            deviation = (stats["share"] - expected) / expected
            ok = ok and abs(deviation) <= SHARE_TOLERANCE
            parts.append(f"{tenant} {stats['share']:.4f} vs {expected:.4f} ({deviation:+.1%})")
        checks.append(
            Check(
                "fairshare shares, weighted",
                f"each within ±{SHARE_TOLERANCE:.0%} of w/Σw",
                "; ".join(parts),
                ok,
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
