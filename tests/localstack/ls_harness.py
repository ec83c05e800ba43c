"""Helpers for the LocalStack tests: start an instance with ``localstack/ctl.py`` and talk to it.

Each session starts its own LocalStack on a free port with its own state folder (``localstack/ctl.py``), so a
developer's running instance on 4566 is left alone. The tests need ``make localstack-venv``; without it they
are skipped.
"""

from __future__ import annotations

import importlib.util
import io
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
CTL = ROOT / "localstack" / "ctl.py"
VENV_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
REGION = "us-east-1"


@dataclass(frozen=True)
class Instance:
    """One LocalStack started by ``ctl.py``: where it listens and where its state lives."""

    port: int
    state: Path
    startup_s: float

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update({"LOCALSTACK_PORT": str(self.port), "LOCALSTACK_DIR": str(self.state)})
        return env

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(CTL), *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        if check and result.returncode != 0:
            raise AssertionError(f"ctl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def pid(self) -> int:
        return int((self.state / "localstack.pid").read_text())

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _load_ctl() -> ModuleType:
    spec = importlib.util.spec_from_file_location("localstack_ctl", CTL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ctl = _load_ctl()


def family(pid: int) -> set[int]:
    """LocalStack's process, its group and its descendants (as ``ctl.py down`` sees them)."""
    members: set[int] = ctl.family(pid)
    return members


def alive(pids: set[int]) -> set[int]:
    found: set[int] = ctl._alive(pids)
    return found


def start_instance(state: Path) -> Instance:
    if not VENV_PYTHON.is_file():
        pytest.skip("LocalStack venv missing: run `make localstack-venv`")
    instance = Instance(port=free_port(), state=state, startup_s=0.0)
    started = time.monotonic()
    instance.ctl("up")
    return Instance(instance.port, state, time.monotonic() - started)


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


FunctionFactory = Callable[..., str]
