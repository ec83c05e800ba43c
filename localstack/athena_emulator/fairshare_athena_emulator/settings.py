"""The emulator's settings: read from `FAIRSHARE_EMULATOR_*` at start, changeable through the admin API."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fairshare_athena_emulator.catalog import TableSpec, parse_catalog

ENV_PREFIX = "FAIRSHARE_EMULATOR_"


class SettingsError(ValueError):
    """A setting has a value the emulator cannot use."""


@dataclass(slots=True)
class EmulatorSettings:
    dml_quota: int = 20
    ddl_quota: int = 5
    # Seconds in QUEUED, and the uniform range of seconds in RUNNING, unless a query's hints say otherwise.
    queue_seconds: float = 0.2
    run_seconds_min: float = 0.5
    run_seconds_max: float = 1.5
    events_enabled: bool = True
    metrics_enabled: bool = True
    usage_metric_interval_seconds: float = 60.0
    catalog_s3_uri: str | None = None
    catalog: dict[str, TableSpec] = field(default_factory=dict)
    seed: int | None = None
    query_workers: int = 4  # threads that run queries' SQL (read when the first query runs)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorSettings:
        env = os.environ if environ is None else environ
        settings = cls()
        raw: dict[str, Any] = {}
        for name in settings.public_names():
            value = env.get(ENV_PREFIX + name.upper())
            if value is not None and value != "":
                raw[name] = json.loads(value) if name == "catalog" else value
        run_range = env.get(ENV_PREFIX + "RUN_SECONDS")
        if run_range:
            low, _, high = run_range.partition("-")
            raw["run_seconds_min"], raw["run_seconds_max"] = low, high or low
        settings.update(raw)
        return settings

    @staticmethod
    def public_names() -> list[str]:
        return [f.name for f in fields(EmulatorSettings) if not f.name.startswith("_")]

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update atomically; unknown keys and bad values raise SettingsError."""
        unknown = set(changes) - set(self.public_names())
        if unknown:
            raise SettingsError(f"unknown settings: {sorted(unknown)}; known: {self.public_names()}")
        parsed = {name: self._parse(name, value) for name, value in changes.items()}
        low = parsed.get("run_seconds_min", self.run_seconds_min)
        high = parsed.get("run_seconds_max", self.run_seconds_max)
        if high < low:
            raise SettingsError(f"run_seconds_max ({high}) is below run_seconds_min ({low})")
        with self._lock:
            for name, value in parsed.items():
                setattr(self, name, value)

    def quota(self, pool: str) -> int:
        return self.dml_quota if pool == "DML" else self.ddl_quota

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in self.public_names()}
        out["catalog"] = {name: spec.as_dict() for name, spec in self.catalog.items()}
        return out

    def _parse(self, name: str, value: Any) -> Any:
        try:
            if name in ("dml_quota", "ddl_quota", "query_workers"):
                number = int(value)
                if number < (1 if name == "query_workers" else 0):
                    raise SettingsError(
                        f"{name} must be >= {1 if name == 'query_workers' else 0}, got {number}"
                    )
                return number
            if name in (
                "queue_seconds",
                "run_seconds_min",
                "run_seconds_max",
                "usage_metric_interval_seconds",
            ):
                seconds = float(value)
                if seconds < 0:
                    raise SettingsError(f"{name} must be >= 0, got {seconds}")
                return seconds
            if name in ("events_enabled", "metrics_enabled"):
                return _as_bool(name, value)
            if name == "seed":
                return None if value is None else int(value)
            if name == "catalog_s3_uri":
                return str(value) if value else None
            if name == "catalog":
                return parse_catalog(value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{name}: {exc}") from exc
        raise SettingsError(f"unknown setting {name}")


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be a boolean, got {value!r}")
