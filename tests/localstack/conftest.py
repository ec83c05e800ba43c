"""LocalStack on the host for the tests of the bring-up and of the host Lambda executor.

Each session starts its own LocalStack on a free port with its own state folder (``localstack/ctl.py``), so a
developer's running instance on 4566 is left alone. Without ``make localstack-venv`` the tests are skipped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from ls_harness import FunctionFactory, Instance, alive, family, start_instance, zip_of


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    instance = start_instance(tmp_path_factory.mktemp("localstack"))
    pid = instance.pid()
    seen: set[int] = set()
    try:
        yield instance
    finally:
        seen = family(pid)
        instance.ctl("down")
    left = alive(seen)
    assert left == set(), f"processes started by LocalStack {pid} survived `down`: {sorted(left)}"


@pytest.fixture(scope="session")
def make_function(localstack: Instance) -> FunctionFactory:
    """Creates a python3.12 function from source files and waits until it is Active; returns its name."""
    iam = localstack.client("iam")
    lambda_client = localstack.client("lambda")
    role = iam.create_role(
        RoleName="host-executor-tests",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]

    def create(
        files: dict[str, str],
        handler: str = "app.handler",
        timeout: int = 10,
        environment: dict[str, str] | None = None,
        runtime: str = "python3.12",
    ) -> str:
        name = f"fn-{uuid.uuid4().hex[:12]}"
        lambda_client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler=handler,
            Code={"ZipFile": zip_of(files)},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": environment or {}},
        )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    return create
