"""Bring-up and tear-down of LocalStack on the host (``localstack/ctl.py``), on an instance of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ls_harness import Instance, alive, family, start_instance, zip_of

pytestmark = pytest.mark.localstack


def test_up_is_idempotent_status_reports_and_down_leaves_no_process(tmp_path: Path) -> None:
    instance: Instance = start_instance(tmp_path / "state")
    pid = instance.pid()
    children: set[int] = set()
    try:
        again = instance.ctl("up")
        assert f"already running (pid {pid})" in again.stdout
        assert (instance.state / "fs" / "var/lib/localstack/lib/dynamodb-local/2/DynamoDBLocal.jar").is_file()
        assert (instance.state / "fs" / "var/lib/localstack/lib/java/21/bin/java").exists()

        # a warm Lambda process and DynamoDB Local's JVM: children that `down` must end too
        iam, lambda_client = instance.client("iam"), instance.client("lambda")
        role = iam.create_role(RoleName="platform-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambda_client.create_function(
            FunctionName="warm",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": zip_of({"app.py": "def handler(event, context):\n    return 'up'\n"})},
        )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName="warm")
        assert json.loads(lambda_client.invoke(FunctionName="warm")["Payload"].read()) == "up"
        instance.client("dynamodb").list_tables()
        children = family(pid) - {pid}
        assert len(children) >= 2, f"expected the Lambda runtime and DynamoDB Local, got {children}"

        status = instance.ctl("status")
        assert f"LocalStack pid {pid}" in status.stdout and "healthy" in status.stdout
        print(f"\n[measure] start to healthy {instance.startup_s:.1f} s; {status.stdout.splitlines()[1]}")
    finally:
        started = time.monotonic()
        down = instance.ctl("down")
        print(f"[measure] down {time.monotonic() - started:.1f} s")
    assert "stopped" in down.stdout
    assert alive(children | {pid}) == set()
    assert not (instance.state / "localstack.pid").exists()
    stopped = instance.ctl("status", check=False)
    assert stopped.returncode == 3 and "not running" in stopped.stdout
