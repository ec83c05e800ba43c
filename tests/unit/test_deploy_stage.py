"""Reaching a deployed stage from its Terraform outputs: endpoint, tenants' keys, ledger table, profiles."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fairshare_tools.cli.settings import load_profile
from fairshare_tools.tooling.deploy import DeployError
from fairshare_tools.tooling.loadgen import TenantTarget
from fairshare_tools.tooling.loadgen_cli import parse_tenants
from fairshare_tools.tooling.stage import (
    merge_athena_profiles,
    merge_profiles,
    output_value,
    read_stage_access,
    stage_access,
)

# `terraform output -json` of a stage root: the platform module's `stage_outputs` as one `platform`
# object, and the tenants' API keys apart, sensitive (terraform/stages/*/outputs.tf).
PLATFORM: dict[str, Any] = {
    "invoke_url": "https://abc123.execute-api.us-east-1.amazonaws.com/v1/",
    "rest_api_id": "abc123",
    "api_stage_name": "v1",
    "table_names": {"queries": "fs-local-queries", "state": "fs-local-state"},
    "region": "eu-west-1",
    "api_key_ids": {"alpha": "kid-alpha", "beta": "kid-beta"},
}
OUTPUTS: dict[str, Any] = {
    "platform": {"value": PLATFORM, "sensitive": False},
    "api_key_values": {"value": {"beta": "kb", "alpha": "ka"}, "sensitive": True},
}
# The same stage as it was output before the `platform` object: one output per name, no region.
FLAT_OUTPUTS: dict[str, Any] = {
    **{
        name: {"value": value, "sensitive": False}
        for name, value in PLATFORM.items()
        if name not in ("region", "api_key_ids")
    },
    "api_key_values": OUTPUTS["api_key_values"],
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
    assert stage_access("local", OUTPUTS, environ={}).region == "eu-west-1"
    assert stage_access("local", FLAT_OUTPUTS, environ={}).region is None


def test_a_stage_output_one_name_at_a_time_is_still_read() -> None:
    flat = stage_access("dev", FLAT_OUTPUTS, environ={})
    assert (flat.endpoint, flat.queries_table, dict(flat.api_keys)) == (
        "https://abc123.execute-api.us-east-1.amazonaws.com/v1",
        "fs-local-queries",
        {"alpha": "ka", "beta": "kb"},
    )


def test_members_of_the_platform_object_are_outputs_by_name() -> None:
    assert output_value(OUTPUTS, "table_names") == PLATFORM["table_names"]
    assert output_value(OUTPUTS, "api_key_values") == {"beta": "kb", "alpha": "ka"}
    assert output_value(OUTPUTS, "platform") is None  # unpacked, not a name of its own
    assert output_value({"rest_api_id": "plain"}, "rest_api_id") == "plain"
    assert output_value(OUTPUTS, "function_names") is None


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


def test_aws_profiles_send_an_unchanged_boto3_athena_client_through_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    path = tmp_path / "aws" / "config"
    path.parent.mkdir()
    path.write_text("[default]\nregion = us-west-2\n\n[profile local-alpha]\nregion = stale\n")
    names = merge_athena_profiles(path, stage_access("local", OUTPUTS, environ={}))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    session = boto3.session.Session(profile_name="local-beta")
    athena, s3 = session.client("athena"), session.client("s3")
    credentials = session.get_credentials()

    assert names == ["local-alpha", "local-beta"]
    assert athena.meta.endpoint_url == "http://127.0.0.1:4566/_aws/execute-api/abc123/v1/athena"
    assert s3.meta.endpoint_url == "http://127.0.0.1:4566"  # results on LocalStack's S3
    assert (credentials.access_key, credentials.secret_key) == ("kid-beta", "kb")
    assert athena.meta.region_name == "eu-west-1"
    assert boto3.session.Session(profile_name="default").region_name == "us-west-2"  # kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_aws_profiles_on_aws_point_only_athena_at_the_platform(tmp_path: Path) -> None:
    path = tmp_path / "config"
    merge_athena_profiles(path, stage_access("dev", OUTPUTS, environ={}))
    text = path.read_text()

    assert "endpoint_url = https://abc123.execute-api.us-east-1.amazonaws.com/v1/athena" in text
    assert "s3 =" not in text


def test_aws_profiles_need_the_key_ids(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="api_key_ids"):
        merge_athena_profiles(tmp_path / "config", stage_access("dev", FLAT_OUTPUTS, environ={}))
