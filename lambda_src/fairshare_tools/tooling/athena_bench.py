"""Polling clients on the Athena endpoint: how many of their GetQueryExecution calls reach Athena (none
should: the endpoint answers from the ledger), and the endpoint's latency while they poll.

The api Lambda's handler runs in this process behind the loopback API Gateway proxy, on the in-memory
ledger and the Athena fake (which counts every GetQueryExecution and BatchGetQueryExecution it receives).
Client processes each run threads with their own botocore Athena client that poll one query every
`interval_s`, as awswrangler does (0.25 s). The handler's own time per request is measured inside the
server; clients measure the round trip (signing, HTTP, the handler). A figure from here is a measurement
of this code on this machine, with the ledger in memory: on AWS each poll adds one DynamoDB GetItem
(single-digit milliseconds) and API Gateway's own latency.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fairshare.config import Config, parse_config
from fairshare.ports import ApiCredential

TENANTS = ("analytics", "marketing", "finance", "ops")
SECRET_OF = {tenant: f"secret-of-{tenant}-0123456789" for tenant in TENANTS}
KEY_OF = {tenant: f"key-{tenant}" for tenant in TENANTS}
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class PollReport:
    clients: int
    interval_s: float
    duration_s: float
    polls: int
    errors: int
    athena_get_calls: int  # GetQueryExecution + BatchGetQueryExecution that reached Athena while polling
    client_ms: Sequence[float]
    handler_ms: Sequence[float]

    @property
    def offered_per_s(self) -> float:
        return self.clients / self.interval_s

    @property
    def achieved_per_s(self) -> float:
        return self.polls / self.duration_s

    def rows(self) -> list[tuple[str, str]]:
        return [
            (
                "polling clients",
                f"{self.clients} (every {self.interval_s} s: {self.offered_per_s:.0f} polls/s offered)",
            ),
            ("polls answered", f"{self.polls} in {self.duration_s:.1f} s ({self.achieved_per_s:.0f}/s)"),
            ("errors", str(self.errors)),
            ("Athena GetQueryExecution calls from the polls", str(self.athena_get_calls)),
            ("handler latency p50 / p95 / max (ms)", _quantiles(self.handler_ms)),
            ("client round trip p50 / p95 / max (ms)", _quantiles(self.client_ms)),
        ]


def _quantiles(values: Sequence[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"{cuts[49]:.1f} / {cuts[94]:.1f} / {max(values):.1f}"


def bench_config() -> Config:
    tenant = {"max_concurrency": 20, "max_queued": 1000, "databases": ["default"]}
    return parse_config(
        {
            "stage": "bench",
            "region": REGION,
            "queries_table": "queries",
            "state_table": "state",
            "submissions_queue_url": "https://sqs.invalid/submissions",
            "submissions_dlq_url": "https://sqs.invalid/submissions-dlq",
            "events_queue_url": "https://sqs.invalid/athena-events",
            "events_dlq_url": "https://sqs.invalid/athena-events-dlq",
            "results_bucket": "fairshare-bench-results",
            "pools": {"DML": {"quota": 20}, "DDL": {"quota": 5}},
            "start_rate_per_s": 1000,
            "start_burst": 1000,
            "tenants": {
                name: {**tenant, "workgroup": f"fs-bench-{name}", "api_key_id": KEY_OF[name]}
                for name in TENANTS
            },
        }
    )


def _client(endpoint: str, tenant: str) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.session.Session().client(
        "athena",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_OF[tenant],
        aws_secret_access_key=SECRET_OF[tenant],
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=1),
    )


def _poller_process(
    endpoint: str, assignments: list[tuple[str, str]], interval_s: float, duration_s: float,
    ready: Any, go: Any, start_at: Any, results: Any,
) -> None:  # fmt: skip
    """One client process: its clients built first (then `ready`), a thread per (tenant, query id) polling
    every interval_s from the common start the parent sets once every process is ready."""
    clients = [(_client(endpoint, tenant), query_id) for tenant, query_id in assignments]
    ready.put(len(clients))
    go.wait()
    begin = float(start_at.value)
    stop_at = begin + duration_s
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def poll(athena: Any, query_id: str, offset: float) -> None:
        mine: list[float] = []
        failed = 0
        next_at = begin + offset
        while True:
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            if time.time() >= stop_at:
                break
            began = time.perf_counter()
            try:
                athena.get_query_execution(QueryExecutionId=query_id)
                mine.append((time.perf_counter() - began) * 1000)
            except Exception:
                failed += 1
            next_at = max(next_at + interval_s, time.time())
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [
        threading.Thread(target=poll, args=(athena, q, interval_s * i / max(1, len(clients))), daemon=True)
        for i, (athena, q) in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, errors[0]))


def run(
    clients: int = 200, interval_s: float = 0.25, duration_s: float = 20.0, processes: int = 2
) -> PollReport:
    """Submit one query per client through the endpoint, start some, then poll them all for duration_s."""
    from fairshare import wiring
    from fairshare.handlers import api
    from fairshare.services.deps import Deps
    from fairshare.services.dispatch import Dispatcher

    from fairshare_tools.testing import apigateway_proxy
    from fairshare_tools.testing.fakes import (
        FakeApiKeys,
        FakeAthena,
        FakeResultStore,
        FixedUsage,
        RecordingMetrics,
        RecordingNotifier,
        RecordingWakeups,
    )
    from fairshare_tools.testing.memory_ledger import MemoryLedger

    config = bench_config()
    athena = FakeAthena()
    deps = Deps(
        config=config,
        ledger=MemoryLedger(),
        athena=athena,
        clock=wiring.SystemClock(),
        metrics=RecordingMetrics(),
        notifier=RecordingNotifier(),
        wakeups=RecordingWakeups(),
        results=FakeResultStore(),
        usage=FixedUsage(),
    )
    keys = FakeApiKeys(
        {KEY_OF[t]: ApiCredential(KEY_OF[t], SECRET_OF[t], True, 10_000.0, 10_000) for t in TENANTS}
    )
    wiring.use(deps)
    wiring.use_athena_endpoint(keys, athena)
    handler_ms: list[float] = []
    lock = threading.Lock()

    class Context:
        function_name = "fairshare-bench-api"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fairshare-bench-api"
        aws_request_id = "00000000-0000-4000-8000-000000000000"

        def get_remaining_time_in_millis(self) -> int:
            return 29_000

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        began = time.perf_counter()
        reply: dict[str, Any] = api.handler(event, Context())
        with lock:
            handler_ms.append((time.perf_counter() - began) * 1000)
        return reply

    try:
        with apigateway_proxy.serve(handle, "v1") as base_url:
            endpoint = f"{base_url}/athena"
            assignments = []
            for index in range(clients):
                tenant = TENANTS[index % len(TENANTS)]
                reply = _client(endpoint, tenant).start_query_execution(QueryString=f"SELECT {index}")
                assignments.append((tenant, str(reply["QueryExecutionId"])))
            Dispatcher(deps).run_round()  # some RUNNING, the rest QUEUED: both are answered from the ledger
            context = multiprocessing.get_context("spawn")
            ready, results, go = context.Queue(), context.Queue(), context.Event()
            start_at = context.Value("d", 0.0)
            shards = [assignments[i::processes] for i in range(processes)]
            workers = [
                context.Process(
                    target=_poller_process,
                    args=(endpoint, shard, interval_s, duration_s, ready, go, start_at, results),
                )
                for shard in shards
            ]
            for worker in workers:
                worker.start()
            for _ in workers:
                ready.get(timeout=600)  # every client built
            with lock:
                handler_ms.clear()
            athena_before = athena.get_calls
            start_at.value = time.time() + 0.5
            go.set()
            collected = [results.get(timeout=duration_s + 120) for _ in workers]
            for worker in workers:
                worker.join(timeout=30)
            athena_calls = athena.get_calls - athena_before
            with lock:
                measured = list(handler_ms)
    finally:
        wiring.use(None)
        wiring.use_athena_endpoint(None, None)
    client_ms = [value for latencies, _ in collected for value in latencies]
    return PollReport(
        clients=clients,
        interval_s=interval_s,
        duration_s=duration_s,
        polls=len(client_ms),
        errors=sum(errors for _, errors in collected),
        athena_get_calls=athena_calls,
        client_ms=client_ms,
        handler_ms=measured,
    )
