"""What-if simulation of Athena's quota under the dispatcher's scheduler and alternative policies.

The engine imports the dispatcher's domain code (`plan_admissions`, `TenantQueue`, `EffectiveLimit`,
`LimitPolicy`, `TokenBucket`), never a copy, so a simulated `fairshare` run is the dispatcher's logic.
"""

from fairshare_tools.simulation.engine import POLICIES, PolicyName, Simulation, SimulationView, simulate
from fairshare_tools.simulation.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from fairshare_tools.simulation.workload import Job, generate_jobs

__all__ = [
    "POLICIES",
    "Job",
    "PolicyName",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "SimulationView",
    "generate_jobs",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
