"""What the tools need to reach a deployed stage, read from its Terraform outputs.

The platform module's outputs give the REST API id and stage, one API key per tenant (sensitive) and
the ledger's table names. On LocalStack the API answers under `/_aws/execute-api/<id>/<stage>` of the
gateway; on AWS, at the stage's invoke URL.
"""

from __future__ import annotations

import configparser
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fairshare_tools.tooling.deploy import LOCAL_STAGE, DeployError, make_deployer, stage_outputs

LOCALSTACK_ENDPOINT_ENV = "LOCALSTACK_ENDPOINT"
DEFAULT_LOCALSTACK_ENDPOINT = "http://127.0.0.1:4566"
ATHENA_PATH = "/athena"  # the api module's athena_path output
LOCALSTACK_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # any key works


@dataclass(frozen=True, slots=True)
class StageAccess:
    stage: str
    endpoint: str
    api_keys: Mapping[str, str]  # tenant -> x-api-key value
    queries_table: str | None
    aws_endpoint_url: str | None  # LocalStack's gateway for boto3, None on AWS
    region: str | None = None  # the stage's `region` output (absent on stages applied before it existed)
    api_key_ids: Mapping[str, str] = field(default_factory=dict)  # tenant -> API key id (SigV4 access key id)

    @property
    def athena_endpoint(self) -> str:
        """The Athena-compatible endpoint: an Athena client's endpoint_url."""
        return f"{self.endpoint}{ATHENA_PATH}"


def localstack_session(endpoint: str = DEFAULT_LOCALSTACK_ENDPOINT, region: str = "us-east-1") -> Any:
    """A session whose clients all reach LocalStack at `endpoint` (localstack-client's Session: every
    service at the one gateway, dummy credentials); `.client(service)` as with boto3."""
    from localstack_client.session import Session

    return Session(region_name=region, localstack_host=urlsplit(endpoint).netloc, **LOCALSTACK_CREDENTIALS)


def output_value(outputs: Mapping[str, Any], name: str) -> Any:
    """One output of `terraform output -json` (its `value`), or the plain value; None if absent.

    A member of the stage's `platform` object counts as an output of its own (`stage_outputs`).
    """
    item = stage_outputs(outputs).get(name)
    return item.get("value") if isinstance(item, dict) and "value" in item else item


def stage_access(
    stage: str, outputs: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> StageAccess:
    """Build the access details from `terraform output -json` of a stage root."""
    env = os.environ if environ is None else environ
    api_keys = output_value(outputs, "api_key_values") or {}
    key_ids = output_value(outputs, "api_key_ids") or {}
    tables = output_value(outputs, "table_names") or {}
    if not isinstance(api_keys, dict) or not isinstance(tables, dict):
        raise DeployError(f"stage {stage}: api_key_values and table_names outputs must be maps")
    region = output_value(outputs, "region")
    aws_endpoint: str | None = None
    if stage == LOCAL_STAGE:
        aws_endpoint = env.get(LOCALSTACK_ENDPOINT_ENV, DEFAULT_LOCALSTACK_ENDPOINT).rstrip("/")
        api_id, api_stage = output_value(outputs, "rest_api_id"), output_value(outputs, "api_stage_name")
        if not api_id or not api_stage:
            raise DeployError(f"stage {stage} has no rest_api_id/api_stage_name outputs: is it applied?")
        endpoint = f"{aws_endpoint}/_aws/execute-api/{api_id}/{api_stage}"
    else:
        endpoint = output_value(outputs, "invoke_url") or ""
        if not endpoint:
            raise DeployError(f"stage {stage} has no invoke_url output: is it applied?")
    return StageAccess(
        stage=stage,
        endpoint=str(endpoint).rstrip("/"),
        api_keys={str(k): str(v) for k, v in sorted(api_keys.items())},
        queries_table=str(tables["queries"]) if tables.get("queries") else None,
        aws_endpoint_url=aws_endpoint,
        region=str(region) if region else None,
        api_key_ids={str(k): str(v) for k, v in sorted(key_ids.items())} if isinstance(key_ids, dict) else {},
    )


def read_stage_access(
    root: Path, stage: str, *, outputs_reader: Callable[[], Mapping[str, Any]] | None = None
) -> StageAccess:
    """Run `terraform output` for the stage (through the deploy adapter) and build its access details."""
    if outputs_reader is None:
        deployer = make_deployer(root, stage, say=lambda _message: None)
        outputs_reader = deployer.output
    return stage_access(stage, outputs_reader())


def tenantctl_profiles(access: StageAccess) -> str:
    """TOML with one `[<stage>-<tenant>]` profile per tenant, for `tenantctl --profile`."""
    lines: list[str] = []
    for tenant, key in access.api_keys.items():
        lines += [f"[{access.stage}-{tenant}]", f'endpoint = "{access.endpoint}"', f'api_key = "{key}"', ""]
    return "\n".join(lines)


def merge_profiles(path: Path, access: StageAccess) -> list[str]:
    """Write the stage's tenant profiles into a tenantctl profile file, keeping its other tables."""
    existing: dict[str, Any] = {}
    if path.exists():
        existing = tomllib.loads(path.read_text(encoding="utf-8"))
    prefix = f"{access.stage}-"
    kept = {name: table for name, table in existing.items() if not name.startswith(prefix)}
    text: list[str] = []
    for name, table in kept.items():
        if not isinstance(table, dict):
            continue
        text.append(f"[{name}]")
        text += [f'{key} = "{value}"' for key, value in table.items()]
        text.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text) + tenantctl_profiles(access), encoding="utf-8")
    path.chmod(0o600)  # it holds API keys
    return [f"{prefix}{tenant}" for tenant in access.api_keys]


def aws_profile_name(stage: str, tenant: str) -> str:
    return f"{stage}-{tenant}"


def merge_athena_profiles(path: Path, access: StageAccess) -> list[str]:
    """Write one AWS config profile `<stage>-<tenant>` per tenant into an AWS config file (keeping its
    other sections): the tenant's API key id and value as credentials, and a `services` section whose
    `athena` endpoint_url is the platform's Athena endpoint. `AWS_PROFILE=<stage>-<tenant>` then sends an
    unchanged boto3, PyAthena or awswrangler program's Athena calls through the platform."""
    config = configparser.ConfigParser(interpolation=None)
    if path.exists():
        config.read(path, encoding="utf-8")
    names: list[str] = []
    for tenant, value in access.api_keys.items():
        key_id = access.api_key_ids.get(tenant)
        if not key_id:
            raise DeployError(f"stage {access.stage}: no api_key_ids output for tenant {tenant}")
        name = aws_profile_name(access.stage, tenant)
        services = f"{name}-services"
        config[f"profile {name}"] = {
            "region": access.region or "us-east-1",
            "aws_access_key_id": key_id,
            "aws_secret_access_key": value,
            "services": services,
        }
        endpoints = {"athena": access.athena_endpoint}
        if access.aws_endpoint_url:  # LocalStack: results are read from its S3
            endpoints["s3"] = access.aws_endpoint_url
        config[f"services {services}"] = {
            service: f"\nendpoint_url = {url}" for service, url in endpoints.items()
        }
        names.append(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)
    path.chmod(0o600)  # it holds API keys
    return names


def default_aws_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
