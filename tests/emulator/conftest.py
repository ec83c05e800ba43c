"""Emulator tests: the engine with a fake clock and in-memory S3/EventBridge/CloudWatch; no network."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack" / "athena_emulator"))

from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.settings import EmulatorSettings

from .helpers import FakeClock, MemoryStore, RecordingEvents, RecordingMetrics

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise RuntimeError(f"emulator tests must not touch the network (tried {address!r})")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def settings() -> EmulatorSettings:
    return EmulatorSettings(
        dml_quota=3, ddl_quota=2, queue_seconds=1.0, run_seconds_min=2.0, run_seconds_max=2.0, seed=7
    )


@pytest.fixture
def engine(
    settings: EmulatorSettings,
    clock: FakeClock,
    store: MemoryStore,
    events: RecordingEvents,
    metrics: RecordingMetrics,
) -> AthenaEngine:
    return AthenaEngine("111122223333", "us-east-1", settings, clock, store, events, metrics)
