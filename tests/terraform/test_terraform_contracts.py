"""The names Terraform gives the Lambdas (handlers, environment) are the ones the package defines.

Pure file reads and imports: no Terraform, no network. The configuration object itself is checked by
terraform/modules/platform/tests (the rendered document goes through `parse_config`).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from fairshare import config

FUNCTIONS_MAIN = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "functions" / "main.tf"


def _block(text: str, name: str) -> str:
    match = re.search(rf"^\s*{name}\s*=\s*\{{(.*?)^\s*\}}", text, re.M | re.S)
    assert match, f"no `{name} = {{...}}` in {FUNCTIONS_MAIN}"
    return match.group(1)


def _handlers() -> dict[str, str]:
    block = _block(FUNCTIONS_MAIN.read_text(encoding="utf-8"), "handlers")
    return dict(re.findall(r'^\s*(\w+)\s*=\s*"([\w.]+)"', block, re.M))


def test_terraform_declares_the_four_functions_of_the_contract() -> None:
    assert set(_handlers()) == {"api", "dispatcher", "completion", "redrive"}


@pytest.mark.parametrize("function", ["api", "dispatcher", "completion", "redrive"])
def test_each_terraform_handler_is_a_callable_of_the_package(function: str) -> None:
    module_name, _, attribute = _handlers()[function].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute, None)
    assert callable(handler), f"{module_name}.{attribute} (set by Terraform for {function}) is not callable"


def test_terraform_sets_the_environment_the_configuration_loader_reads() -> None:
    text = FUNCTIONS_MAIN.read_text(encoding="utf-8")
    environment = set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=", _block(text, "environment"), re.M))
    uri_variable = config.CONFIG_S3_URI_ENV
    assert uri_variable in environment, f"{uri_variable} missing from {sorted(environment)}"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= environment
