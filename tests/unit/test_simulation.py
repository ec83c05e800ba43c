"""The simulator: Athena's quota model, determinism, policy behaviour, metrics, scenario files, CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from fairshare_tools.simulation import (
    Scenario,
    ScenarioError,
    Simulation,
    SimulationView,
    load_scenario,
    parse_scenario,
    simulate,
)
from fairshare_tools.simulation.engine import AthenaQuota
from fairshare_tools.simulation.metrics import jain_index, percentile
from fairshare_tools.simulation.targets import evaluate

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scripts" / "scenarios"


def tenant(weight: float = 1.0, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "weight": weight,
        "max_concurrency": 20,
        "max_queued": 5000,
        "arrivals": [{"kind": "burst", "at_s": 0, "count": 150}],
        "duration_s": {"kind": "fixed", "value": 10},
    }
    spec.update(overrides)
    return spec


def scenario(**overrides: Any) -> Scenario:
    document: dict[str, Any] = {
        "name": "tiny",
        "seed": 3,
        "duration_s": 200,
        "pools": {"DML": {"quota": 20, "headroom": 0}, "DDL": {"quota": 5, "headroom": 0}},
        "tenants": {"a": tenant(), "b": tenant()},
    }
    document.update(overrides)
    return parse_scenario(document, "test scenario")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Athena's quota -----------------------------------------------------------------------------
def test_a_start_at_the_quota_is_throttled() -> None:
    athena = AthenaQuota({"DML": 2, "DDL": 1})
    assert athena.try_start("DML") and athena.try_start("DML")
    assert not athena.try_start("DML")
    assert athena.try_start("DDL")


def test_foreign_load_takes_freed_slots_before_ours() -> None:
    athena = AthenaQuota({"DML": 3, "DDL": 1})
    for _ in range(3):
        assert athena.try_start("DML")
    athena.set_foreign_demand("DML", 2)
    assert athena.foreign["DML"] == 0  # nothing free yet
    athena.finish("DML")
    assert athena.foreign["DML"] == 1 and not athena.try_start("DML")
    athena.set_foreign_demand("DML", 0)
    assert athena.foreign["DML"] == 0 and athena.try_start("DML")


# --- runs ---------------------------------------------------------------------------------------
def test_same_seed_gives_the_same_document_and_another_seed_does_not() -> None:
    mixed = {"a": tenant(duration_s={"kind": "lognormal", "median": 8, "sigma": 0.5}), "b": tenant()}
    first = json.dumps(simulate(scenario(tenants=mixed)), sort_keys=True)
    again = json.dumps(simulate(scenario(tenants=mixed)), sort_keys=True)
    other = json.dumps(simulate(scenario(tenants=mixed, seed=4)), sort_keys=True)
    assert first == again
    assert first != other


def test_admission_policies_stay_within_the_limit_and_seed000_throttles() -> None:
    busy = scenario(
        tenants={
            "a": tenant(arrivals=[{"kind": "poisson", "rate_per_s": 3, "start_s": 0, "end_s": 200}]),
            "b": tenant(arrivals=[{"kind": "burst", "at_s": 5, "count": 200}], ddl_fraction=0.2),
        },
        foreign_load=[{"start_s": 60, "end_s": 120, "active": 6}],
    )
    result = simulate(busy)["policies"]
    for policy in ("fairshare", "fifo", "round_robin"):
        for pool, tally in result[policy]["pools"].items():
            assert tally["max_active"] <= tally["limit"], (policy, pool, tally)
        assert result[policy]["pools"]["DML"]["max_active"] == 20, policy
    assert result["seed000"]["throttles"] > 100
    assert (
        result["seed000"]["throttles_per_1000_starts"] > 10 * result["fairshare"]["throttles_per_1000_starts"]
    )


def test_headroom_is_left_to_others_by_every_policy_but_seed000() -> None:
    spare = scenario(pools={"DML": {"quota": 20, "headroom": 4}, "DDL": {"quota": 5, "headroom": 0}})
    result = simulate(spare)["policies"]
    assert {result[p]["max_active"] for p in ("fairshare", "fifo", "round_robin")} == {16}
    assert result["seed000"]["max_active"] == 20


def test_without_foreign_load_fairshare_never_throttles_and_reaches_the_ceiling() -> None:
    metrics = Simulation(scenario(), "fairshare").run()
    assert metrics["throttles"] == 0
    # fixed 10 s queries, 0.5 s event delay: the ceiling is 10 / 10.5
    assert metrics["utilization_ceiling"] == pytest.approx(10 / 10.5, abs=1e-6)
    assert metrics["utilization"] == pytest.approx(metrics["utilization_ceiling"], abs=0.01)


def test_foreign_load_lowers_the_effective_limit_which_recovers_after() -> None:
    views: list[SimulationView] = []
    foreign = scenario(duration_s=400, foreign_load=[{"start_s": 50, "end_s": 150, "active": 8}])
    metrics = Simulation(foreign, "fairshare", observer=views.append, observe_every_s=10).run()
    assert metrics["throttles"] > 0
    assert metrics["pools"]["DML"]["min_effective_limit"] <= 12
    during = [view for view in views if 100 <= view.now < 150]
    assert all(view.effective_limit["DML"] <= 13 for view in during)
    assert views[-1].effective_limit["DML"] == 20  # +1 per 10 s quiet interval after the load left


def test_weights_split_the_slots_and_fifo_ignores_them() -> None:
    weighted = scenario(
        duration_s=120,
        pools={"DML": {"quota": 30, "headroom": 0}, "DDL": {"quota": 5, "headroom": 0}},
        tenants={
            "big": tenant(
                weight=2, max_concurrency=30, arrivals=[{"kind": "burst", "at_s": 0, "count": 400}]
            ),
            "small": tenant(
                weight=1, max_concurrency=30, arrivals=[{"kind": "burst", "at_s": 0, "count": 400}]
            ),
        },
    )
    result = simulate(weighted, ["fairshare", "fifo"])["policies"]
    assert result["fairshare"]["tenants"]["big"]["share"] == pytest.approx(2 / 3, abs=0.02)
    assert result["fairshare"]["jain_index"] == pytest.approx(1.0, abs=0.01)
    # FIFO serves the big burst (submitted first) before any of the small one.
    assert result["fifo"]["tenants"]["small"]["share"] < 0.1


def test_a_light_tenant_is_not_stuck_behind_a_heavy_burst() -> None:
    contest = scenario(
        duration_s=300,
        tenants={
            "heavy": tenant(
                arrivals=[{"kind": "burst", "at_s": 0, "count": 1000}],
                duration_s={"kind": "lognormal", "median": 10, "sigma": 0.5},
            ),
            "light": tenant(arrivals=[{"kind": "poisson", "rate_per_s": 0.1, "start_s": 0, "end_s": 300}]),
        },
    )
    result = simulate(contest)["policies"]
    light = {policy: result[policy]["tenants"]["light"]["wait_p99_s"] for policy in result}
    assert light["fairshare"] < 5.0
    assert light["fairshare"] <= 0.1 * light["seed000"]
    assert light["fifo"] > 100


def test_priorities_are_kept_by_every_dispatcher_policy_and_broken_by_seed000() -> None:
    """The dispatcher offers each tenant's queue in its order (I-5), whatever the policy orders
    tenants by; the AWS sample starts queries as they come."""
    prioritized = scenario(
        tenants={
            "a": tenant(
                priorities={"0": 0.5, "2": 0.5},
                arrivals=[{"kind": "poisson", "rate_per_s": 4, "start_s": 0, "end_s": 200}],
            )
        }
    )
    result = simulate(prioritized)["policies"]
    for policy in ("fairshare", "weighted_fair", "fifo", "round_robin"):
        assert result[policy]["priority_inversions"] == 0, policy
    assert result["seed000"]["priority_inversions"] > 50


def test_a_full_queue_rejects() -> None:
    small = scenario(tenants={"a": tenant(max_queued=50)})
    metrics = Simulation(small, "fairshare").run()
    # the burst lands before the first round: 50 queue, the other 100 are refused
    assert metrics["tenants"]["a"]["rejected"] == 100
    assert metrics["tenants"]["a"]["admitted"] == 50


# --- metrics ------------------------------------------------------------------------------------
def test_percentile_and_jain() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    assert jain_index([]) is None
    assert jain_index([5.0, 5.0, 5.0]) == pytest.approx(1.0)
    assert jain_index([1.0, 0.0]) == pytest.approx(0.5)


def test_targets_report_a_miss() -> None:
    steady = scenario(name="steady")
    document = simulate(steady, ["fairshare"])
    document["policies"]["fairshare"]["priority_inversions"] = 3
    checks = {check.check: check for check in evaluate([document], {"steady": steady})}
    assert checks["fairshare priority_inversions, every scenario"].ok is False
    assert checks["fairshare throttles/1000 starts, steady"].ok is True


# --- scenario files -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"duration_s": -1}, "duration_s: Input should be greater than 0"),
        ({"pools": {"DDL": {"quota": 5}}}, "pools must declare DML"),
        ({"tenants": {"a": tenant(priorities={"0": 0.5, "1": 0.4})}}, "priority probabilities must sum to 1"),
        ({"tenants": {"a": tenant(priorities={"high": 1.0})}}, "priority 'high' must be an integer"),
        (
            {
                "tenants": {
                    "a": tenant(arrivals=[{"kind": "poisson", "rate_per_s": 1, "start_s": 9, "end_s": 5}])
                }
            },
            "end_s (5.0) must be after start_s (9.0)",
        ),
        ({"tenants": {"a": tenant(duration_s={"kind": "uniform"})}}, "tenants.a.duration_s"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        (
            {"pools": {"DML": {"quota": 10, "headroom": 10}}},
            "quota (10) - headroom (10) must be >= min_limit",
        ),
    ],
)
def test_invalid_scenarios_are_explained(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        scenario(**change)
    assert "test scenario is not a valid scenario" in str(error.value)
    assert message in str(error.value)


def test_unreadable_and_non_json_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken.json: not JSON \(line 1"):
        load_scenario(broken)


def test_bundled_scenarios_are_valid() -> None:
    names = {load_scenario(path).name for path in SCENARIOS.glob("*.json")}
    assert {"steady", "weighted", "heavy_vs_light", "foreign_load", "priorities"} <= names


# --- command line -------------------------------------------------------------------------------
def test_simulate_json_prints_one_document(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(scenario().model_dump(mode="json")), encoding="utf-8")
    cli = load_script("simulate")
    result = CliRunner().invoke(
        cli.main, ["--scenario", str(path), "--policies", "fairshare,seed000", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["scenario"] == "tiny"
    assert set(document["policies"]) == {"fairshare", "seed000"}
    fairshare = document["policies"]["fairshare"]
    for key in ("limit", "max_active", "utilization", "utilization_ceiling", "jain_index"):
        assert key in fairshare
    for key in ("throttles_per_1000_starts", "priority_inversions", "completed", "submitted"):
        assert key in fairshare
    assert set(fairshare["tenants"]["a"]) >= {"weight", "admitted", "share", "wait_p50_s", "wait_p99_s"}


def test_simulate_rejects_an_unknown_policy_and_a_bad_file(tmp_path: Path) -> None:
    cli = load_script("simulate")
    unknown = CliRunner().invoke(cli.main, ["--scenario", "all", "--policies", "fairshare,lottery"])
    assert unknown.exit_code == 2 and "unknown policy lottery" in unknown.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}', encoding="utf-8")
    invalid = CliRunner().invoke(cli.main, ["--scenario", str(bad)])
    assert invalid.exit_code == 1 and "is not a valid scenario" in invalid.output


def test_bench_reports_decisions_per_second() -> None:
    bench = load_script("bench_admission")
    args = ["--tenants", "20", "--queued", "400", "--limit", "30", "--seconds", "0.2"]
    result = CliRunner().invoke(bench.main, args)
    assert result.exit_code == 0, result.output
    assert "admission decisions per second" in result.output
    assert "queued at the end" in result.output and "400" in result.output


def test_the_utilization_timeline_shows_the_limit_recovering_after_foreign_load() -> None:
    foreign = scenario(duration_s=300, foreign_load=[{"start_s": 50, "end_s": 100, "active": 8}])
    foreign = parse_scenario(
        foreign.model_dump(mode="json")
        | {
            "tenants": {
                "a": tenant(arrivals=[{"kind": "poisson", "rate_per_s": 4, "start_s": 0, "end_s": 300}])
            }
        }
    )
    timeline = Simulation(foreign, "fairshare", timeline_s=50).run()["utilization_timeline"]
    assert timeline["bucket_s"] == 50 and len(timeline["values"]) == 6
    before, during, after = timeline["values"][0], timeline["values"][1], timeline["values"][2]
    assert before == pytest.approx(10 / 10.5, abs=0.05)
    # after the load left, the effective limit climbs back one slot per 10 s: slots stay unused
    assert after < before - 0.05
    assert during is not None and timeline["values"][-1] == pytest.approx(10 / 10.5, abs=0.05)
