"""Settings from FAIRSHARE_EMULATOR_* and their validation."""

from __future__ import annotations

import json

import pytest
from fairshare_athena_emulator.catalog import parse_catalog
from fairshare_athena_emulator.settings import EmulatorSettings, SettingsError


def test_defaults_match_the_documented_ones() -> None:
    settings = EmulatorSettings.from_env({})
    assert (settings.dml_quota, settings.ddl_quota) == (20, 5)
    assert settings.events_enabled and settings.metrics_enabled
    assert settings.usage_metric_interval_seconds == 60


def test_environment_overrides() -> None:
    settings = EmulatorSettings.from_env(
        {
            "FAIRSHARE_EMULATOR_DML_QUOTA": "7",
            "FAIRSHARE_EMULATOR_DDL_QUOTA": "2",
            "FAIRSHARE_EMULATOR_RUN_SECONDS": "0.1-0.3",
            "FAIRSHARE_EMULATOR_EVENTS_ENABLED": "false",
            "FAIRSHARE_EMULATOR_CATALOG": json.dumps({"db.t": {"format": "parquet", "location": "s3://b/t"}}),
        }
    )
    assert (settings.dml_quota, settings.ddl_quota) == (7, 2)
    assert (settings.run_seconds_min, settings.run_seconds_max) == (0.1, 0.3)
    assert settings.events_enabled is False
    assert settings.catalog["db.t"].location == "s3://b/t/"


@pytest.mark.parametrize(
    "change",
    [
        {"dml_quota": -1},
        {"events_enabled": "maybe"},
        {"run_seconds_min": 5, "run_seconds_max": 1},
        {"nope": 1},
    ],
)
def test_bad_updates_are_rejected_and_change_nothing(change: dict[str, object]) -> None:
    settings = EmulatorSettings()
    with pytest.raises(SettingsError):
        settings.update(change)
    assert settings.dml_quota == 20 and settings.events_enabled is True


@pytest.mark.parametrize(
    "catalog",
    [
        {"t": {"format": "csv", "location": "s3://b/"}},
        {"db.t": {"format": "orc", "location": "s3://b/"}},
        {"db.t": {"format": "csv", "location": "/local/path"}},
        {"db.t": "s3://b/"},
    ],
)
def test_bad_catalog_entries_are_rejected(catalog: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        parse_catalog(catalog)
