"""Each tenant's execution identity (I-4): a boto3 session per tenant with its role's credentials.

botocore's own assume-role credentials do the work: the role is assumed on first use, the credentials
are cached in the execution environment and refreshed shortly before they expire (botocore's advisory
and mandatory refresh windows, 15 and 10 minutes), so a tenant's calls cost one AssumeRole per hour.
The session name is `<function>-<tenant>`; Athena's ClientRequestToken (the query id) ties each
CloudTrail record of a start to its query.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import boto3
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

T = TypeVar("T")
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


def session_name(function: str, tenant: str) -> str:
    """STS RoleSessionName: 2-64 characters of [\\w+=,.@-]."""
    return _SESSION_NAME_CHARS.sub("-", f"{function}-{tenant}")[:64]


class TenantSessions:
    """boto3 sessions that act as each tenant's execution role; a tenant without a role (a stage or test
    configured so) uses the function's own session."""

    def __init__(self, base: boto3.session.Session, roles: Mapping[str, str | None], function: str) -> None:
        self._base = base
        self._roles = dict(roles)
        self._function = function
        self._sessions: dict[str, boto3.session.Session] = {}
        self._lock = threading.Lock()

    def session(self, tenant: str) -> boto3.session.Session:
        with self._lock:
            found = self._sessions.get(tenant)
            if found is None:
                found = self._sessions[tenant] = self._assume(tenant)
            return found

    def _assume(self, tenant: str) -> boto3.session.Session:
        if tenant not in self._roles:
            raise KeyError(f"unknown tenant {tenant!r}")
        role_arn = self._roles[tenant]
        if role_arn is None:
            return self._base
        source: Any = self._base._session  # botocore's session behind the boto3 one
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=source.create_client,
            source_credentials=source.get_credentials(),
            role_arn=role_arn,
            extra_args={"RoleSessionName": session_name(self._function, tenant)},
        )
        assumed = botocore.session.Session()
        assumed._credentials = DeferredRefreshableCredentials(
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )
        return boto3.session.Session(botocore_session=assumed, region_name=self._base.region_name)


class PerTenantClients(Generic[T]):
    """Implements `fairshare.ports.PerTenant`: one adapter per tenant, built on first use and kept."""

    def __init__(self, build: Callable[[str], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}
        self._lock = threading.Lock()

    def as_tenant(self, tenant: str) -> T:
        with self._lock:
            found = self._built.get(tenant)
            if found is None:
                found = self._built[tenant] = self._build(tenant)
            return found
