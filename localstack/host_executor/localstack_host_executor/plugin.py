"""Entry point ``localstack.lambda.runtime_executor:host``, selected with ``LAMBDA_RUNTIME_EXECUTOR=host``."""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc,unused-ignore]
    name = "host"

    def load(self, *args: Any, **kwargs: Any) -> type:
        from localstack_host_executor.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
