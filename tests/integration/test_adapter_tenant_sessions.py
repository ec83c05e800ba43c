"""Each tenant's execution identity on moto: the role is assumed on first use, once, and every client
of that tenant signs with the assumed role's credentials; a tenant without a role uses the function's."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from fairshare.adapters.sts import PerTenantClients, TenantSessions, session_name
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def roles() -> Iterator[dict[str, str | None]]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        }
        arns = {
            tenant: iam.create_role(
                RoleName=f"fs-test-tenant-{tenant}",
                Path="/fs/test/tenants/",
                AssumeRolePolicyDocument=json.dumps(trust),
            )["Role"]["Arn"]
            for tenant in ("alpha", "beta")
        }
        yield {**arns, "gamma": None}


def test_each_tenant_acts_as_its_own_role_assumed_once(roles: dict[str, str | None]) -> None:
    base = boto3.session.Session(region_name=REGION)
    assumed: list[str] = []
    base.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(params["RoleArn"])
    )
    sessions = TenantSessions(base, roles, "dispatcher")
    clients = PerTenantClients(lambda tenant: sessions.session(tenant).client("sts"))

    alpha = clients.as_tenant("alpha").get_caller_identity()["Arn"]
    beta = clients.as_tenant("beta").get_caller_identity()["Arn"]
    again = clients.as_tenant("alpha").get_caller_identity()["Arn"]
    assert alpha == again and alpha.endswith(":assumed-role/fs-test-tenant-alpha/dispatcher-alpha")
    assert beta.endswith(":assumed-role/fs-test-tenant-beta/dispatcher-beta")
    assert clients.as_tenant("alpha") is clients.as_tenant("alpha")
    assert assumed == [roles["alpha"], roles["beta"]]  # once per tenant, not once per call
    assert sessions.session("gamma") is base  # no role configured: the function's own credentials


def test_an_unknown_tenant_has_no_identity(roles: dict[str, str | None]) -> None:
    sessions = TenantSessions(boto3.session.Session(region_name=REGION), roles, "api")
    with pytest.raises(KeyError):
        sessions.session("mallory")


def test_session_names_are_what_sts_accepts() -> None:
    assert session_name("dispatcher", "analytics") == "dispatcher-analytics"
    assert session_name("fairshare-completion", "a" * 60) == ("fairshare-completion-" + "a" * 60)[:64]
    assert session_name("api", "odd name/with:chars") == "api-odd-name-with-chars"
