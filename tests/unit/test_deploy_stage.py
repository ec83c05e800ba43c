"""Reaching a deployed stage from its Terraform outputs: endpoint, tenants' keys, ledger table, profiles."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fairshare.cli.settings import load_profile
from fairshare.tooling.deploy import DeployError
from fairshare.tooling.loadgen import TenantTarget
from fairshare.tooling.loadgen_cli import parse_tenants
from fairshare.tooling.stage import merge_profiles, read_stage_access, stage_access

OUTPUTS: dict[str, Any] = {
    "invoke_url": {"value": "https://abc123.execute-api.us-east-1.amazonaws.com/v1/", "sensitive": False},
    "rest_api_id": {"value": "abc123", "sensitive": False},
    "api_stage_name": {"value": "v1", "sensitive": False},
    "api_key_values": {"value": {"beta": "kb", "alpha": "ka"}, "sensitive": True},
    "table_names": {"value": {"queries": "fs-local-queries", "state": "fs-local-state"}, "sensitive": False},
}


def test_the_local_stage_is_reached_through_the_localstack_gateway() -> None:
    access = stage_access("local", OUTPUTS, environ={})
    assert access.endpoint == "http://127.0.0.1:4566/_aws/execute-api/abc123/v1"
    assert dict(access.api_keys) == {"alpha": "ka", "beta": "kb"}
    assert access.queries_table == "fs-local-queries"
    assert access.aws_endpoint_url == "http://127.0.0.1:4566"
    moved = stage_access("local", OUTPUTS, environ={"LOCALSTACK_ENDPOINT": "http://127.0.0.1:4599/"})
    assert moved.endpoint == "http://127.0.0.1:4599/_aws/execute-api/abc123/v1"


def test_the_stage_region_comes_from_its_output_when_the_stage_has_one() -> None:
    # the usage report calls DynamoDB with it: without a region boto3 fails unless AWS_DEFAULT_REGION is set
    assert (
        stage_access("local", {**OUTPUTS, "region": {"value": "eu-west-1"}}, environ={}).region == "eu-west-1"
    )
    assert stage_access("local", OUTPUTS, environ={}).region is None


def test_a_real_stage_is_reached_at_its_invoke_url() -> None:
    access = stage_access("dev", OUTPUTS, environ={})
    assert access.endpoint == "https://abc123.execute-api.us-east-1.amazonaws.com/v1"
    assert access.aws_endpoint_url is None


def test_a_stage_that_is_not_applied_says_so() -> None:
    with pytest.raises(DeployError, match="is it applied"):
        stage_access("local", {}, environ={})
    with pytest.raises(DeployError, match="is it applied"):
        read_stage_access(Path("."), "dev", outputs_reader=dict)


def test_profiles_are_merged_into_the_tenantctl_file(tmp_path: Path) -> None:
    path = tmp_path / "tenantctl" / "config.toml"
    path.parent.mkdir()
    path.write_text('[default]\nendpoint = "https://mine"\napi_key = "k0"\n\n[local-old]\nendpoint = "x"\n')
    names = merge_profiles(path, stage_access("local", OUTPUTS, environ={}))
    assert names == ["local-alpha", "local-beta"]
    assert load_profile(path, "default") == {"endpoint": "https://mine", "api_key": "k0"}
    assert load_profile(path, "local-beta") == {
        "endpoint": "http://127.0.0.1:4566/_aws/execute-api/abc123/v1",
        "api_key": "kb",
    }
    with pytest.raises(ValueError, match="not found"):
        load_profile(path, "local-old")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_loadgen_takes_a_stages_tenants() -> None:
    keys = {"alpha": "ka", "beta": "kb"}
    assert parse_tenants((), None, keys) == (TenantTarget("alpha", "ka"), TenantTarget("beta", "kb"))
    assert parse_tenants(("beta",), None, keys) == (TenantTarget("beta", "kb"),)
    with pytest.raises(Exception, match="want NAME=API_KEY"):
        parse_tenants(("gamma",), None, keys)
