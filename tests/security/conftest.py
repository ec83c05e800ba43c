"""Security suites run on the integration suite's moto stage (tables, queues, bucket, five tenants)."""

from tests.integration.conftest import _moto_stage, platform, pytest_configure, shared_platform

__all__ = ["_moto_stage", "platform", "pytest_configure", "shared_platform"]
