"""Builds the services' dependencies once per execution environment (cold start).

Boto3 clients honour `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (the local stage sets them).
Tests call `use(deps)` to run the handlers against fakes and moto.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics

from fairshare.config import Config, load_config
from fairshare.ports import ApiKeys, AthenaCatalog, PerTenant, QueueTransport
from fairshare.services.deps import Deps

if TYPE_CHECKING:
    from fairshare.adapters.sts import TenantSessions

_deps: Deps | None = None
METRICS = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AthenaFairshare"))


class SystemClock:
    """Implements `fairshare.ports.Clock` with the real time."""

    def now(self) -> float:
        import time

        return time.time()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))


def build(config: Config) -> Deps:
    import boto3
    from botocore.config import Config as BotoConfig

    from fairshare.adapters.athena import START_CLIENT_CONFIG, BotoAthena
    from fairshare.adapters.ddb_ledger import DynamoLedger
    from fairshare.adapters.metrics import EmfMetrics
    from fairshare.adapters.s3 import PRESIGN_CLIENT_CONFIG, S3ResultStore
    from fairshare.adapters.sns import SnsNotifier
    from fairshare.adapters.sqs import SqsWakeups
    from fairshare.adapters.sts import PerTenantClients
    from fairshare.adapters.usage import CloudWatchUsage

    session = boto3.session.Session(region_name=config.region)
    # I-4: Athena and the results are reached as the query's tenant, never as the function itself.
    tenants = tenant_sessions(config, session)
    # a round's concurrent admissions each hold a ledger connection (botocore's default pool is 10)
    ledger_client = session.client("dynamodb", config=BotoConfig(max_pool_connections=32))
    return Deps(
        config=config,
        ledger=DynamoLedger(
            ledger_client, config.queries_table, config.state_table, config.query_ttl_days, config.decay
        ),
        athena=PerTenantClients(
            lambda t: BotoAthena(tenants.session(t).client("athena", config=START_CLIENT_CONFIG))
        ),
        clock=SystemClock(),
        metrics=EmfMetrics(METRICS, config.stage, config.metrics_namespace),
        notifier=SnsNotifier(session.client("sns")),
        wakeups=SqsWakeups(session.client("sqs"), config.submissions_queue_url, config.submissions_dlq_url),
        results=PerTenantClients(
            lambda t: S3ResultStore(tenants.session(t).client("s3", config=PRESIGN_CLIENT_CONFIG))
        ),
        usage=CloudWatchUsage(session.client("cloudwatch")),
    )


def tenant_sessions(config: Config, session: Any) -> TenantSessions:
    """boto3 sessions as each tenant's execution role (I-4), named after this function."""
    from fairshare.adapters.sts import TenantSessions

    function = os.environ.get("POWERTOOLS_SERVICE_NAME", "fairshare").removeprefix("athena-")
    return TenantSessions(
        session, {name: t.execution_role_arn for name, t in config.tenants.items()}, function
    )


def deps() -> Deps:
    global _deps
    if _deps is None:
        _deps = build(load_config())
    return _deps


def use(injected: Deps | None) -> None:
    """Replace (or with None, forget) the dependencies the handlers use."""
    global _deps
    _deps = injected


_transport: QueueTransport | None = None


def transport() -> QueueTransport:
    """Raw SQS access for redrive."""
    global _transport
    if _transport is None:
        import boto3

        from fairshare.adapters.sqs import SqsTransport

        _transport = SqsTransport(boto3.session.Session(region_name=deps().config.region).client("sqs"))
    return _transport


def use_transport(injected: QueueTransport | None) -> None:
    global _transport
    _transport = injected


_api_keys: ApiKeys | None = None
_catalog: PerTenant[AthenaCatalog] | None = None


def api_keys() -> ApiKeys:
    """The tenants' API keys (the Athena endpoint's SigV4 secrets), read from API Gateway as the function."""
    global _api_keys
    if _api_keys is None:
        import boto3

        from fairshare.adapters.apigateway import ApiGatewayKeys

        session = boto3.session.Session(region_name=deps().config.region)
        _api_keys = ApiGatewayKeys(session.client("apigateway"), deps().clock.now)
    return _api_keys


def catalog() -> PerTenant[AthenaCatalog]:
    """Athena's results and catalog calls the Athena endpoint passes through, as the caller's tenant."""
    global _catalog
    if _catalog is None:
        import boto3

        from fairshare.adapters.athena import START_CLIENT_CONFIG, BotoAthena
        from fairshare.adapters.sts import PerTenantClients

        config = deps().config
        tenants = tenant_sessions(config, boto3.session.Session(region_name=config.region))
        _catalog = PerTenantClients(
            lambda t: BotoAthena(tenants.session(t).client("athena", config=START_CLIENT_CONFIG))
        )
    return _catalog


def use_athena_endpoint(keys: ApiKeys | None, passthrough: PerTenant[AthenaCatalog] | None) -> None:
    """Replace (or with None, forget) the Athena endpoint's API keys and pass-through calls."""
    global _api_keys, _catalog
    _api_keys, _catalog = keys, passthrough
