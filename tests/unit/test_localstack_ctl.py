"""localstack/ctl.py without starting LocalStack: settings, the environment it gets, finding its processes."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

CTL_PATH = Path(__file__).resolve().parents[2] / "localstack" / "ctl.py"


def _load_ctl() -> ModuleType:
    spec = importlib.util.spec_from_file_location("localstack_ctl_under_test", CTL_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ctl = _load_ctl()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("LOCALSTACK_PORT", "4777")
    monkeypatch.setenv("LOCALSTACK_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LOCALSTACK_VENV", str(tmp_path / "no-venv"))
    monkeypatch.setenv("PYTHONPATH", "/somewhere/that/would/shadow/localstack")
    monkeypatch.delenv("LAMBDA_KEEPALIVE_MS", raising=False)
    monkeypatch.delenv("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", raising=False)
    monkeypatch.delenv("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", raising=False)
    for name in ("DYNAMODB_SHARE_DB", "DYNAMODB_LOCAL_PORT", "LOCALSTACK_DYNAMODB_PORT"):
        monkeypatch.delenv(name, raising=False)
    return ctl.Settings.from_env()


def test_settings_come_from_the_environment(settings: object, tmp_path: Path) -> None:
    assert settings == ctl.Settings(
        port=4777,
        state=tmp_path / "state",
        venv=tmp_path / "no-venv",
        cache=ctl.ROOT / ".localstack" / "cache",
        start_timeout_s=90.0,
    )


def test_localstack_gets_the_host_mode_environment_on_its_port_without_pythonpath(
    settings: object, tmp_path: Path
) -> None:
    env = ctl.localstack_environment(settings)
    state = tmp_path / "state"
    expected = {
        "GATEWAY_LISTEN": "127.0.0.1:4777",
        "LOCALSTACK_HOST": "127.0.0.1:4777",
        "SQS_ENDPOINT_STRATEGY": "off",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(state / "fs"),
        "TMPDIR": str(state / "tmp"),
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "host",
    }
    assert {name: env.get(name) for name in expected} == expected
    assert "PYTHONPATH" not in env
    assert env["LAMBDA_KEEPALIVE_MS"] == "120000"
    pythons = json.loads(env["HOST_EXECUTOR_PYTHONS"])
    assert isinstance(pythons, dict) and all(Path(path).is_file() for path in pythons.values())
    if (ctl.ROOT / "localstack" / "athena_emulator" / "pyproject.toml").is_file():
        assert env["PROVIDER_OVERRIDE_ATHENA"] == "fairshare"


def test_sqs_pollers_hand_a_message_over_within_a_tenth_of_a_second(settings: object) -> None:
    env = ctl.localstack_environment(settings)
    assert env["LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"] == "0.1"
    assert env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"] == "0.1"


def test_dynamodb_local_listens_on_a_known_port_with_one_shared_database(settings: object) -> None:
    env = ctl.localstack_environment(settings)
    assert env["DYNAMODB_SHARE_DB"] == "1"
    assert env["DYNAMODB_LOCAL_PORT"] == "4779"  # the gateway's port (4777 here) + 2


def test_a_keepalive_set_by_the_caller_is_kept(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_KEEPALIVE_MS", "600000")
    assert ctl.localstack_environment(settings)["LAMBDA_KEEPALIVE_MS"] == "600000"


def test_up_without_the_venv_says_how_to_create_it(settings: object) -> None:
    with pytest.raises(ctl.CtlError, match="make localstack-venv"):
        ctl.up(settings)


def test_status_without_a_running_instance_exits_3(
    settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    ctl.Settings.from_env().state.mkdir(parents=True)
    assert ctl.status(settings) == 3
    assert "not running" in capsys.readouterr().out


def test_down_forgets_the_local_stage_whose_resources_died_with_localstack(
    settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ctl.Settings.from_env().state
    state.mkdir(parents=True)
    for name in ("terraform.tfstate", "terraform.tfstate.backup", "outputs.json", "localstack.log"):
        (state / name).write_text("{}")
    assert ctl.down(settings) == 0
    assert sorted(path.name for path in state.iterdir()) == ["localstack.log"]
    assert "not running" in capsys.readouterr().out


def test_the_family_of_a_process_includes_descendants_in_other_sessions() -> None:
    # the grandchild starts a session of its own, as LocalStack does with DynamoDB Local
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time; subprocess.Popen(['sleep', '30'], "
            "start_new_session=True); time.sleep(30)",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        members: set[int] = set()
        while time.monotonic() < deadline and len(members) < 2:
            members = ctl.family(parent.pid)
            time.sleep(0.05)
        assert parent.pid in members and len(members) == 2, members
    finally:
        for member in ctl.family(parent.pid):
            ctl.os.kill(member, signal.SIGKILL)
        parent.wait(5)
