"""I-9: the scheduling domain is pure, and the simulator schedules with it.

Reads the domain's source (ast): it imports only the standard library and itself, reads no clock or
environment and opens nothing. The dispatcher's and the simulator's admission function is the
domain's own object.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest
from fairshare.domain import admission
from fairshare.services import dispatch
from fairshare.services.deps import Deps
from fairshare_tools.simulation import engine

DOMAIN = Path(admission.__file__).resolve().parent
SOURCES = sorted(DOMAIN.glob("*.py"))
# Calls that read the clock, the environment or the outside world.
IMPURE_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("os", "getenv"),
}
IMPURE_NAMES = {"open", "input", "print"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _impure(tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in IMPURE_NAMES:
                problems.append(f"{func.id}() at line {node.lineno}")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in IMPURE_CALLS
            ):
                problems.append(f"{func.value.id}.{func.attr}() at line {node.lineno}")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) == ("os", "environ")
        ):
            problems.append(f"os.environ at line {node.lineno}")
    return problems


def test_the_domain_has_modules_to_check() -> None:
    assert {"admission.py", "limits.py", "queue.py", "model.py"} <= {p.name for p in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_and_the_domain(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    outside = {
        name
        for name in _imports(tree)
        if name != "__future__"
        and name.split(".")[0] not in sys.stdlib_module_names
        and not (name == "fairshare.domain" or name.startswith("fairshare.domain."))
    }
    assert outside == set(), f"I-9: {path.name} imports {sorted(outside)}"
    assert not {"os", "time", "datetime", "socket", "subprocess"} & {n.split(".")[0] for n in _imports(tree)}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_a_domain_module_reads_no_clock_environment_or_file(path: Path) -> None:
    assert _impure(ast.parse(path.read_text(encoding="utf-8"))) == [], f"I-9: {path.name}"


def test_the_checks_see_what_they_forbid() -> None:
    impure = ast.parse("import os, boto3\nimport time\nx = time.time() + len(os.environ)\nopen('f')\n")
    assert {"os", "boto3", "time"} <= _imports(impure)
    assert len(_impure(impure)) == 3


def test_the_dispatcher_admits_with_the_domains_function_and_the_simulator_runs_the_dispatcher() -> None:
    planner = next(f for f in dataclasses.fields(Deps) if f.name == "planner")
    assert planner.default is admission.plan_admissions  # what every Lambda's round runs
    assert engine.Dispatcher is dispatch.Dispatcher
