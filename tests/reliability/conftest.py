"""Regression tests here may use the integration suite's moto stage."""

from tests.integration.conftest import _moto_stage, platform, pytest_configure

__all__ = ["_moto_stage", "platform", "pytest_configure"]
