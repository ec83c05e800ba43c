"""The emulator as LocalStack's `athena` provider (`PROVIDER_OVERRIDE_ATHENA=fairshare`) on the gateway port.

Community LocalStack ships no Athena API module, so the provider is a dispatch table built from the
operations of `wire.OPERATIONS`: LocalStack's skeleton parses the request with the botocore service model
and our wire layer answers, so LocalStack and the standalone server send the same bytes. The admin API is
added to LocalStack's router at start, before any Athena call loads the provider.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from localstack.aws.api import RequestContext
from localstack.http import Request, Response
from localstack.runtime import hooks
from localstack.services.edge import ROUTER
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

from fairshare_athena_emulator import wire
from fairshare_athena_emulator.aws import CloudWatchSink, EventBridgeSink, S3ObjectStore
from fairshare_athena_emulator.iam import Caller
from fairshare_athena_emulator.runtime import ADMIN_PREFIX, EmulatorRuntime
from fairshare_athena_emulator.settings import EmulatorSettings

LOG = logging.getLogger(__name__)

AWS_GLOBAL_REGION = "us-east-1"  # where LocalStack keeps IAM's and STS's account-wide state
_runtime: EmulatorRuntime | None = None
_runtime_lock = threading.Lock()


def _ports(account_id: str, region: str) -> tuple[S3ObjectStore, EventBridgeSink, CloudWatchSink]:
    from localstack.aws.connect import connect_to

    clients = connect_to(aws_access_key_id=account_id, region_name=region)
    return S3ObjectStore(clients.s3), EventBridgeSink(clients.events), CloudWatchSink(clients.cloudwatch)


def get_runtime() -> EmulatorRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = EmulatorRuntime(EmulatorSettings.from_env(), _ports)
        return _runtime


class AthenaFairshareProvider(ServiceLifecycleHook):  # type: ignore[misc]
    service = "athena"

    def on_before_stop(self) -> None:
        get_runtime().stop()


def caller_of(context: RequestContext) -> Caller | None:
    """The assumed-role session that signed the request, with its role's identity policies as
    LocalStack's IAM holds them (inline, and attached customer-managed). None for credentials that are
    not an STS session of a role LocalStack knows: the account's own."""
    from localstack.services.iam.models import iam_stores
    from localstack.services.sts.models import sts_stores
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    access_key_id = extract_access_key_id_from_auth_header(context.request.headers)
    if not access_key_id:
        return None
    session = sts_stores[context.account_id][AWS_GLOBAL_REGION].credentials.get(access_key_id)
    if session is None or ":assumed-role/" not in session.arn:
        return None
    role_name = session.arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    iam = iam_stores[session.account_id][AWS_GLOBAL_REGION]
    role = iam.ROLES.get(role_name)
    if role is None:
        return Caller(session.arn, ())  # a role since deleted: nothing is allowed
    documents = [unquote(document) for document in role.inline_policies.values()]
    for policy_arn in role.attached_policy_arns:
        managed = iam.MANAGED_POLICIES.get(policy_arn)
        if managed is not None:
            version = managed.versions.get(str(managed.policy.get("DefaultVersionId")))
            if version is not None and version.get("Document"):
                documents.append(unquote(str(version["Document"])))
    return Caller(session.arn, tuple(documents))


def _operation_handler(operation: str) -> Callable[[RequestContext, dict[str, Any]], Response]:
    def handle(context: RequestContext, request: dict[str, Any]) -> Response:
        engine = get_runtime().engine(context.account_id, context.region)
        # the caller is resolved (LocalStack's STS and IAM stores) only where it matters, not for polls
        caller = caller_of(context) if operation == wire.CALLER_OPERATION else None
        answer = wire.invoke(engine, operation, request or {}, caller)
        return Response(response=answer.body, status=answer.status, headers=answer.headers)

    return handle


def _dispatch_table(provider: AthenaFairshareProvider) -> dict[str, Any]:
    return {operation: _operation_handler(operation) for operation in wire.OPERATIONS}


@aws_provider(api="athena", name="fairshare")  # type: ignore[untyped-decorator]
def athena_fairshare() -> Service:
    return Service.for_provider(AthenaFairshareProvider(), dispatch_table_factory=_dispatch_table)


def _admin_endpoint(request: Request, route: str = "") -> Response:
    status, document = get_runtime().admin(request.method, request.path, request.get_data())
    return Response.for_json(document, status=status)


@hooks.on_infra_start()  # type: ignore[untyped-decorator]
def register_admin_routes() -> None:
    ROUTER.add(f"{ADMIN_PREFIX}/<path:route>", endpoint=_admin_endpoint, methods=["GET", "POST", "PUT"])
    LOG.info("Athena emulator admin API at %s/{config,state,catalog,reset}", ADMIN_PREFIX)
