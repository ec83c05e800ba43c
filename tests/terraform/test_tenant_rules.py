"""One set of tenant rules: Terraform's validation of `var.tenants` and the configuration object agree.

The rules are defined once, in `fairshare.domain.tenant_rules`; the pydantic model and the domain's
`TenantPolicy` use them. Terraform cannot import them, so this reads the validation conditions and the
optional defaults of `terraform/modules/platform/variables.tf` and checks they are the same rules, runs
the shared case table (`tenant_policy_cases.json`) through the model and the domain, and checks that
the platform module's `tests/tenant_rules.tftest.hcl` (which runs the same cases through Terraform) is
rendered from that table. Pure file reads and imports: no Terraform, no network.
"""

from __future__ import annotations

import importlib.util
import json
import re
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fairshare.config import ConfigError, TenantConfig, parse_config
from fairshare.domain.errors import ValidationFailed
from fairshare.domain.model import TenantPolicy
from fairshare.domain.tenant_rules import (
    BUDGET_ACTIONS,
    MIN_DATABASES,
    TENANT_BOUNDS,
    TENANT_NAME_MAX_LENGTH,
    TENANT_NAME_PATTERN,
    Bound,
)

ROOT = Path(__file__).resolve().parents[2]
VARIABLES_TF = ROOT / "terraform" / "modules" / "platform" / "variables.tf"
TOOL = ROOT / "terraform" / "tools" / "tenant_rule_tests.py"


def _tool() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("tenant_rule_tests", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL_MODULE = _tool()
CASES: dict[str, list[dict[str, Any]]] = TOOL_MODULE.load_cases()


@cache
def _tenants_variable() -> str:
    text = VARIABLES_TF.read_text(encoding="utf-8")
    match = re.search(r'^variable "tenants" \{', text, re.M)
    assert match, f'no variable "tenants" in {VARIABLES_TF}'
    depth, i = 1, match.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[match.end() : i - 1]


def _conditions() -> list[str]:
    return re.findall(r"^\s*condition\s*=\s*(.+)$", _tenants_variable(), re.M)


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _terraform_bounds() -> dict[str, Bound]:
    """Each field's bound as the validation conditions write it."""
    found: dict[str, dict[str, Any]] = {}
    operators = {">=": "ge", ">": "gt", "<=": "le"}
    for condition in _conditions():
        for field, operator, number in re.findall(r"\bt\.(\w+)\s*(>=|>|<=|<)\s*(-?[0-9.]+)", condition):
            assert operator in operators, f"unexpected `{operator}` on {field} in: {condition}"
            key = operators[operator]
            assert key not in found.get(field, {}), f"{field} has two `{operator}` bounds"
            found.setdefault(field, {})[key] = _number(number)
        for field, again in re.findall(r"\bfloor\(t\.(\w+)\)\s*==\s*t\.(\w+)", condition):
            assert field == again, condition
            found.setdefault(field, {})["integer"] = True
        for field in re.findall(r"\bt\.(\w+)\s*==\s*null\s*\|\|", condition):
            found.setdefault(field, {})["optional"] = True
    found.pop("databases", None)  # a length, checked on its own
    return {field: Bound(**rules) for field, rules in found.items()}


def _terraform_attributes() -> dict[str, tuple[str, str | None]]:
    """The tenant object's attributes: name -> (type, default or None)."""
    block = re.search(r"type\s*=\s*map\(object\(\{(.*?)\}\)\)", _tenants_variable(), re.S)
    assert block, "the tenants variable must be typed map(object({...}))"
    return {
        name: (kind, default)
        for name, kind, default in (
            (m.group(1), m.group(2), m.group(3))
            for m in re.finditer(
                r"^\s*(\w+)\s*=\s*optional\(([\w()]+?)(?:,\s*(.+))?\)\s*$", block.group(1), re.M
            )
        )
    }


def test_terraform_checks_each_bounded_field_with_the_python_bounds() -> None:
    assert _terraform_bounds() == dict(TENANT_BOUNDS)


def test_terraform_checks_the_name_with_the_python_pattern() -> None:
    patterns = [
        json.loads(m)
        for c in _conditions()
        for m in re.findall(r'can\(regex\(("(?:[^"\\]|\\.)*"),\s*name\)\)', c)
    ]
    assert patterns == [TENANT_NAME_PATTERN]
    assert TENANT_NAME_PATTERN.endswith(f"{{0,{TENANT_NAME_MAX_LENGTH - 1}}}$")


def test_terraform_checks_budget_actions_and_databases_as_python_does() -> None:
    actions = [
        json.loads(m)
        for c in _conditions()
        for m in re.findall(r"contains\((\[.*?\]),\s*t\.budget_action\)", c)
    ]
    assert actions == [list(BUDGET_ACTIONS)]
    minimums = [int(m) for c in _conditions() for m in re.findall(r"length\(t\.databases\)\s*>=\s*(\d+)", c)]
    assert minimums == [MIN_DATABASES]


def test_only_fields_without_a_terraform_default_may_be_unset() -> None:
    attributes = _terraform_attributes()
    for field, bound in TENANT_BOUNDS.items():
        assert field in attributes, f"{field} is not an attribute of var.tenants"
        _, default = attributes[field]
        assert bound.optional == (default is None), (
            f"{field}: optional={bound.optional}, Terraform default {default}"
        )


def _pydantic_bound(field: str) -> Bound:
    info = TenantConfig.model_fields[field]
    rules: dict[str, Any] = {}
    for constraint in info.metadata:
        for key in ("ge", "gt", "le"):
            if getattr(constraint, key, None) is not None:
                rules[key] = getattr(constraint, key)
    arguments = set(typing.get_args(info.annotation)) or {info.annotation}
    rules["optional"] = type(None) in arguments
    rules["integer"] = (arguments - {type(None)}) == {int}
    return Bound(**rules)


@pytest.mark.parametrize("field", sorted(TENANT_BOUNDS))
def test_the_pydantic_model_enforces_the_python_bounds(field: str) -> None:
    assert _pydantic_bound(field) == TENANT_BOUNDS[field]


def test_terraform_defaults_are_the_pydantic_defaults() -> None:
    attributes = _terraform_attributes()
    shared = set(attributes) & set(TenantConfig.model_fields)
    assert shared >= set(TENANT_BOUNDS) | {"budget_action", "allow_ddl", "databases", "notify_topic_arn"}
    for field in sorted(shared):
        _, default = attributes[field]
        python_default = TenantConfig.model_fields[field].default
        if isinstance(python_default, tuple):
            python_default = list(python_default)
        terraform_default = None if default is None else json.loads(default)
        assert terraform_default == python_default, (
            f"{field}: Terraform {default}, pydantic {python_default!r}"
        )


def _document(tenants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "stage": "dev",
        "queries_table": "fs-dev-queries",
        "state_table": "fs-dev-state",
        "submissions_queue_url": "https://sqs/sub",
        "submissions_dlq_url": "https://sqs/sub-dlq",
        "events_queue_url": "https://sqs/ev",
        "events_dlq_url": "https://sqs/ev-dlq",
        "submissions_quarantine_url": "https://sqs/sub-quarantine",
        "events_quarantine_url": "https://sqs/ev-quarantine",
        "results_bucket": "bucket",
        "pools": {"DML": {"quota": 20}, "DDL": {"quota": 5}},
        # the workgroup is what Terraform adds to a tenant entry (`<name_prefix>-<stage>-<tenant>`)
        "tenants": {name: {**fields, "workgroup": f"fs-dev-{name}"} for name, fields in tenants.items()},
    }


def _policy(case: dict[str, Any]) -> TenantPolicy:
    carried = set(TenantPolicy.__dataclass_fields__) - {"name"}
    fields = {k: v for k, v in case["tenant"].items() if k in carried}
    return TenantPolicy(TOOL_MODULE.case_name(case), **fields)


@pytest.mark.parametrize("case", CASES["valid"], ids=lambda c: c["id"])
def test_a_valid_case_passes_the_model_and_the_domain(case: dict[str, Any]) -> None:
    name = TOOL_MODULE.case_name(case)
    config = parse_config(_document({name: case["tenant"]}))
    assert config.policies[name] == _policy(case)


def test_all_valid_cases_pass_together_as_terraform_plans_them() -> None:
    config = parse_config(_document({TOOL_MODULE.case_name(c): c["tenant"] for c in CASES["valid"]}))
    assert len(config.tenants) == len(CASES["valid"])


@pytest.mark.parametrize("case", CASES["invalid"], ids=lambda c: c["id"])
def test_an_invalid_case_fails_the_model_and_the_domain_on_its_field(case: dict[str, Any]) -> None:
    name, field = TOOL_MODULE.case_name(case), case["field"]
    where = "tenant name" if field == "name" else f"tenants.{name}.{field}"
    with pytest.raises(ConfigError, match=re.escape(where)):
        parse_config(_document({name: case["tenant"]}))
    if field == "name" or field in TenantPolicy.__dataclass_fields__:
        with pytest.raises(ValidationFailed, match=re.escape(field)):
            _policy(case)


def test_each_invalid_case_breaks_only_its_own_field() -> None:
    for case in CASES["invalid"]:
        others = set(case["tenant"]) - {case["field"]}
        assert not others, f"{case['id']} also sets {sorted(others)}"
        assert case["field"] == "name" or "name" not in case, f"{case['id']} renames the tenant"


def test_the_terraform_test_is_rendered_from_the_case_table() -> None:
    rendered = TOOL_MODULE.render(CASES)
    assert TOOL_MODULE.OUTPUT.read_text(encoding="utf-8") == rendered, (
        "stale: run python3 terraform/tools/tenant_rule_tests.py"
    )
    assert rendered.count("expect_failures = [var.tenants]") == len(CASES["invalid"])
