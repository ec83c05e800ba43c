"""Emulator tests: the engine with a fake clock and in-memory S3, EventBridge and CloudWatch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack" / "athena_emulator"))

from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.settings import EmulatorSettings

from .helpers import FakeClock, MemoryStore, RecordingEvents, RecordingMetrics


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
