"""Where `tenantctl` finds its endpoint and API key: flags, then the environment, then a profile file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_ENDPOINT = "TENANTCTL_ENDPOINT"
ENV_API_KEY = "TENANTCTL_API_KEY"
ENV_PROFILE = "TENANTCTL_PROFILE"
ENV_CONFIG = "TENANTCTL_CONFIG"


class SettingsError(ValueError):
    """The profile file is unreadable, or the endpoint is nowhere to be found."""


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str
    api_key: str | None
    profile: str
    source: str  # where the endpoint came from, for error messages


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "tenantctl" / "config.toml"


def load_profile(path: Path, profile: str) -> dict[str, str]:
    """One `[profile]` table of the TOML file; a missing file is an empty profile."""
    if not path.exists():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read profile file {path}: {exc}") from exc
    table = document.get(profile)
    if table is None:
        if profile != "default":
            raise SettingsError(f"profile [{profile}] not found in {path}")
        return {}
    if not isinstance(table, dict):
        raise SettingsError(f"[{profile}] in {path} must be a table")
    unknown = set(table) - {"endpoint", "api_key"}
    if unknown:
        raise SettingsError(f"[{profile}] in {path}: unknown keys {sorted(unknown)} (endpoint, api_key)")
    return {k: str(v) for k, v in table.items()}


def resolve_settings(
    *,
    endpoint: str | None,
    api_key: str | None,
    profile: str | None,
    config_path: Path | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Flags win over the environment, which wins over the profile file (click fills flags from env)."""
    env = os.environ if environ is None else environ
    name = profile or env.get(ENV_PROFILE) or "default"
    path = config_path or default_config_path(env)
    from_file = load_profile(path, name)
    source = "--endpoint or $" + ENV_ENDPOINT
    chosen_endpoint = endpoint or env.get(ENV_ENDPOINT)
    if not chosen_endpoint and from_file.get("endpoint"):
        chosen_endpoint, source = from_file["endpoint"], f"[{name}] in {path}"
    if not chosen_endpoint:
        raise SettingsError(
            f"no API endpoint: pass --endpoint, set ${ENV_ENDPOINT}, or add endpoint to [{name}] in {path}"
        )
    chosen_key = api_key or env.get(ENV_API_KEY) or from_file.get("api_key")
    return Settings(endpoint=chosen_endpoint, api_key=chosen_key, profile=name, source=source)
