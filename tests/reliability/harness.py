"""The fault-injection campaign: the real handlers and the DynamoDB ledger on moto, a chaotic Athena.

A seeded, single-threaded driver on a simulated clock interleaves, one simulated second per step:
- submits through the api handler (API Gateway proxy events; a 503 is retried with the same token);
- Athena progress: executions finish after simulated durations, and their state-change events go to
  the events queue, some lost, duplicated or held back and delivered later (reordered);
- the completion handler on batches of the events queue (an event-source mapping: failed records
  come back, after `max_receive_count` receives they move to the DLQ; some batches are delivered twice);
- the dispatcher handler on batches of the submissions queue, up to 10 rounds in parallel threads;
- every 60 s the tick (a round and reconcile) and the redrive handler.
Faults come from `fairshare_tools.testing.faults`. Query items that reached a terminal state are moved out of
the table into the harness's books (as the table's TTL would), so moto's index scans stay small.
At the end the driver runs until quiescent, then checks I-1, I-2, I-3, the counters, I-8, and that
no handler (or completion record) raised anything but the injected faults' errors.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import boto3
from fairshare import wiring
from fairshare.adapters.s3 import S3ResultStore
from fairshare.adapters.sqs import SqsWakeups
from fairshare.adapters.usage import CloudWatchUsage
from fairshare.config import parse_config
from fairshare.domain.limits import whole_slots
from fairshare.ports import TERMINAL_STATUSES
from fairshare.services.deps import Deps
from fairshare_tools.testing.fakes import FakeClock, Shared
from fairshare_tools.testing.faults import (
    ATHENA_FAILURE_MARKER,
    PERMANENT_MARKER,
    AthenaFaults,
    ChaosAthena,
    CrashFaults,
    CrashingLedger,
    Dice,
    DynamoFaults,
    FaultCounter,
    FaultyDynamoClient,
)
from moto import mock_aws

from tests.integration.conftest import (
    TICK,
    FakeContext,
    SerializedCalls,
    api_event,
    athena_event,
    create_tables,
    sqs_event,
)

REGION = "us-east-1"
BUCKET = "fairshare-campaign"
TENANTS = {  # name: (weight, max_concurrency)
    "north": (3, 20),
    "south": (2, 15),
    "east": (1, 10),
    "west": (1, 10),
    "centre": (1, 6),
}
# What a handler may raise here: injected crashes, DynamoDB retries exhausted, Athena 5xx on a read.
# Anything else is a defect, even when SQS retries and reconcile hide it from the other checks.
EXPECTED_ERRORS = {"InjectedCrash", "DependencyUnavailable", "Transient"}
QUOTA = 60  # Athena's account quota; the platform keeps `HEADROOM` of it for foreign users
HEADROOM = 5


@dataclass
class CampaignSpec:
    queries: int = 10_000
    seed: int = 7
    arrivals_per_s: float = 4.5
    max_dispatchers: int = 10
    # SQS and EventBridge
    duplicate_delivery: float = 0.05
    lost_event: float = 0.02
    duplicate_event: float = 0.05
    reordered_event: float = 0.05
    max_receive_count: int = 5
    # Athena
    rate_throttle: float = 0.01
    storm_rate_throttle: float = 0.5
    server_error_before: float = 0.01
    server_error_after: float = 0.01
    read_error: float = 0.02
    storm_every_s: float = 300.0  # a quota storm (foreign load) and a rate storm, each this often
    storm_length_s: float = 40.0
    foreign_load: int = 45
    permanent_sql: float = 0.01
    athena_failure: float = 0.01
    # DynamoDB
    throughput_exceeded: float = 0.003
    transaction_conflict: float = 0.01
    lost_race: float = 0.05
    # crashes
    crash_after_start: float = 0.01
    crash_after_finalize: float = 0.01
    max_drain_s: int = 3_600
    # sabotage, to show the checks can fail: no ticks (no reconcile), an Athena that ignores tokens
    ticks: bool = True
    athena_honours_tokens: bool = True
    progress_every_s: int = 0  # > 0: a progress line on stderr every this many simulated seconds


@dataclass
class Figures:
    queries: int
    accepted: int
    faults: dict[str, int]
    lost: int
    double_started: int
    max_active: int
    limit: int
    claim_overshoot: int
    drift_repaired: int
    dlqd: int
    permanent_retried: int
    counters_match: bool
    terminal: dict[str, int]
    simulated_s: int
    wall_s: float
    handler_errors: dict[str, int] = field(default_factory=dict)  # invocations that raised (retried by SQS)
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items()) or "none"
        return "\n".join(
            [
                "| queries | faults injected by kind | lost | double-started | max active / limit "
                "| drift repaired | DLQ'd |",
                "|---|---|---|---|---|---|---|",
                f"| {self.queries} | {faults} | {self.lost} | {self.double_started} "
                f"| {self.max_active} / {self.limit} | {self.drift_repaired} | {self.dlqd} |",
            ]
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


@dataclass
class ClaimSample:
    """The pool counter right after a claim committed, against the effective limit's slots then."""

    active: int
    limit_value: float

    @property
    def slots(self) -> int:
        return whole_slots(self.limit_value)


class AtomicCalls(SerializedCalls):
    """Each DynamoDB call runs alone (see `SerializedCalls`); a transaction that took a pool slot is
    followed, under the same lock, by a read of the pool: the I-2 monitor sees exactly the state the
    claim left, before any other writer."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.claims: list[ClaimSample] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name != "transact_write_items":
            return super().__getattr__(name)

        def transact(**kwargs: Any) -> Any:
            with self._lock:
                reply = method(**kwargs)
                for entry in kwargs["TransactItems"]:
                    update = entry.get("Update", {})
                    pk = update.get("Key", {}).get("pk", {}).get("S", "")
                    if pk.startswith("pool#") and update.get("ExpressionAttributeValues", {}).get(":one"):
                        item = self._client.get_item(
                            TableName=update["TableName"], Key=update["Key"], ConsistentRead=True
                        )["Item"]
                        self.claims.append(
                            ClaimSample(int(item["active"]["N"]), float(item["limit_value"]["N"]))
                        )
                return reply

        return transact


class CountingMetrics:
    """Implements `fairshare.ports.Metrics`: sums per metric name (the campaign needs only totals)."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        with self._lock:
            self.totals[name] += value


class StubNotifier:
    def notify(self, topic_arn: str, subject: str, message: Any) -> None:
        return None


def campaign_config(queues: dict[str, str]) -> dict[str, Any]:
    return {
        "stage": "chaos",
        "region": REGION,
        "queries_table": "queries",
        "state_table": "state",
        "submissions_queue_url": queues["submissions"],
        "submissions_dlq_url": queues["submissions-dlq"],
        "events_queue_url": queues["athena-events"],
        "events_dlq_url": queues["athena-events-dlq"],
        "results_bucket": BUCKET,
        "results_prefix": "results/",
        "pools": {
            "DML": {"quota": QUOTA, "headroom": HEADROOM, "decrease_factor": 0.7, "recovery_interval_s": 5},
            "DDL": {"quota": 20, "headroom": 2},
        },
        "tenants": {
            name: {
                "weight": weight,
                "max_concurrency": cap,
                "max_queued": 5000,
                "workgroup": f"fs-chaos-{name}",
                "api_key_id": f"key-{name}",
                "databases": ["default"],
            }
            for name, (weight, cap) in TENANTS.items()
        },
        "start_rate_per_s": 20,
        "start_burst": 80,
        "event_grace_s": 30,
        "max_transient_attempts": 4,
        "redrive_max_per_run": 200,
        "redrive_rate_per_s": 100,
    }


@contextmanager
def quiet_lambdas() -> Iterator[None]:
    """Powertools loggers to ERROR+ (a crash is logged) and no metric warnings, for the run only.

    Only loggers that exist: `getLogger` on a placeholder (`<service>.fairshare.services`, left by the
    services' child loggers of an earlier test) would make it a real logger without a Powertools handler,
    the child loggers' nearest parent, and every `append_keys` of theirs would raise."""
    loggers = [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger)
        and name.startswith(("athena-fairshare", "service_undefined", "fairshare"))
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


@contextmanager
def fast_moto_transactions() -> Iterator[None]:
    """moto rolls a failed TransactWriteItems back by deep-copying every table it touches before each
    transaction (30 ms per call at campaign sizes). This keeps the same all-or-nothing result by
    saving and restoring only the items the transaction names."""
    import copy
    import types

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    real_copy = models.copy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any]] = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None or table.has_range_key:
                with patched_copy(real_copy):
                    return original(self, transact_items)  # type: ignore[no-any-return]
            attrs = op.get("Item") or op.get("Key") or {}
            key = DynamoType(attrs[table.hash_key_attr])
            saved.append((table, key, copy.deepcopy(table.items.get(key))))
        try:
            return original(self, transact_items)  # type: ignore[no-any-return]
        except Exception:
            for table, key, item in reversed(saved):
                if item is None:
                    table.items.pop(key, None)
                else:
                    table.items[key] = item
            raise

    @contextmanager
    def patched_copy(module: Any) -> Iterator[None]:
        models.copy = module
        try:
            yield
        finally:
            models.copy = types.SimpleNamespace(deepcopy=deepcopy)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = real_copy


@contextmanager
def aws_env() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "athena-fairshare-campaign",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_ATHENA"):
        os.environ.pop(name, None)
    try:
        with mock_aws(), fast_moto_transactions():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class _Pending:
    tenant: str
    token: str
    sql: str
    priority: int


class Campaign:
    def __init__(self, spec: CampaignSpec) -> None:
        self.spec = replace(spec)  # the run turns faults off in its own copy, never in the caller's
        self.rng = random.Random(spec.seed)
        self.dice = Dice(spec.seed + 1)
        self.counter = FaultCounter()
        self.clock = FakeClock()
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        create_tables(self.ddb)
        self.queues: dict[str, str] = {}
        for name in ("submissions-dlq", "athena-events-dlq", "submissions", "athena-events"):
            attributes: dict[str, str] = {}
            if not name.endswith("-dlq"):
                dlq_arn = self.sqs.get_queue_attributes(
                    QueueUrl=self.queues[f"{name}-dlq"], AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                )
            self.queues[name] = self.sqs.create_queue(QueueName=f"fs-chaos-{name}", Attributes=attributes)[
                "QueueUrl"
            ]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        self.config = parse_config(campaign_config(self.queues))
        self.ceiling = self.config.pools["DML"].limit_policy().ceiling
        self.athena = ChaosAthena(
            clock=self.clock,
            dice=self.dice,
            faults=AthenaFaults(
                rate_throttle=spec.rate_throttle,
                storm_rate_throttle=spec.storm_rate_throttle,
                server_error_before=spec.server_error_before,
                server_error_after=spec.server_error_after,
                read_error=spec.read_error,
            ),
            counter=self.counter,
            quota=QUOTA,
            ceiling=self.ceiling,
            outputs={t.workgroup: f"s3://{BUCKET}/results/{n}/" for n, t in self.config.tenants.items()},
            duration=lambda: self.dice.uniform(1.0, 9.0),
            honour_tokens=spec.athena_honours_tokens,
        )
        serialized = AtomicCalls(self.ddb)
        self.faulty_ddb = FaultyDynamoClient(
            serialized,
            self.dice,
            DynamoFaults(spec.throughput_exceeded, spec.transaction_conflict, spec.lost_race),
            self.counter,
        )
        self.ledger = CrashingLedger(
            self.faulty_ddb,
            "queries",
            "state",
            dice=self.dice,
            faults=CrashFaults(spec.crash_after_start, spec.crash_after_finalize),
            counter=self.counter,
        )
        self._serialized = serialized
        self.metrics = CountingMetrics()
        self.deps = Deps(
            config=self.config,
            ledger=self.ledger,
            athena=self.athena,
            clock=self.clock,
            metrics=self.metrics,
            notifier=StubNotifier(),
            wakeups=SqsWakeups(self.sqs, self.queues["submissions"], self.queues["submissions-dlq"]),
            results=Shared(S3ResultStore(s3)),
            usage=CloudWatchUsage(boto3.client("cloudwatch", region_name=REGION)),
            rng=random.Random(spec.seed + 2),
        )
        # books
        self.accepted: dict[str, str] = {}  # query id -> tenant
        self.sql_of: dict[str, str] = {}
        self.archived: dict[str, dict[str, Any]] = {}
        self.pending: list[_Pending] = []
        self.held_events: list[tuple[float, dict[str, Any]]] = []
        self.drift_repaired = 0
        self.dlq_arrivals = 0
        self.handler_crashes = Counter[str]()
        self.submitted = 0
        self.steps = 0
        self._storm_quota_until = -1.0
        self._storm_rate_until = -1.0

    # --- observation (no faults: the harness reads moto directly) ---------------------------------
    def _scan(self, table: str, **extra: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True, **extra}
        while True:
            reply = self._serialized.scan(**kwargs)
            items.extend(reply["Items"])
            if "LastEvaluatedKey" not in reply:
                return items
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    # --- one step --------------------------------------------------------------------------------
    def _storms(self, now: float) -> None:
        period = self.spec.storm_every_s
        if period <= 0:
            return
        phase = (now - self.start_time + period / 2) % period
        self.athena.foreign_active = self.spec.foreign_load if phase < self.spec.storm_length_s else 0
        rate_phase = (now - self.start_time) % period
        self.athena.rate_storm = rate_phase < self.spec.storm_length_s / 2

    def _arrivals(self) -> None:
        spec = self.spec
        count = 0
        budget = spec.arrivals_per_s
        while self.submitted < spec.queries and budget > 0:
            if budget < 1 and self.rng.random() > budget:
                break
            budget -= 1
            tenant = self.rng.choices(list(TENANTS), weights=[4, 3, 2, 2, 1])[0]
            marker = ""
            roll = self.rng.random()
            if roll < spec.permanent_sql:
                marker = PERMANENT_MARKER
            elif roll < spec.permanent_sql + spec.athena_failure:
                marker = ATHENA_FAILURE_MARKER
            number = self.submitted
            self.submitted += 1
            self.pending.append(
                _Pending(
                    tenant,
                    f"campaign-{spec.seed}-{number:08d}-{uuid.UUID(int=self.rng.getrandbits(128)).hex}",
                    f"SELECT {number} AS q {marker}".strip(),
                    self.rng.choice([0, 1, 1, 2]),
                )
            )
            count += 1
        retry: list[_Pending] = []
        for item in self.pending:
            status, body = self._call_api(
                api_event(
                    "POST",
                    "/queries",
                    {
                        "sql": item.sql,
                        "database": "default",
                        "priority": item.priority,
                        "client_token": item.token,
                    },
                    key=f"key-{item.tenant}",
                )
            )
            if status in (200, 202):
                self.accepted[body["query_id"]] = item.tenant
                self.sql_of[body["query_id"]] = item.sql
            elif status in (429, 503):
                retry.append(item)  # nothing accepted; the client retries with the same token
            else:
                raise AssertionError(f"submit answered {status}: {body}")
        self.pending = retry

    @staticmethod
    def _call_api(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        from fairshare.handlers import api

        reply = api.handler(event, FakeContext())  # type: ignore[arg-type]
        return int(reply["statusCode"]), json.loads(reply["body"]) if reply.get("body") else {}

    def _events(self, now: float) -> None:
        spec = self.spec
        due = [e for at, e in self.held_events if at <= now]
        self.held_events = [(at, e) for at, e in self.held_events if at > now]
        for execution_id in self.athena.pop_finished():
            run = self.athena.runs[execution_id]
            event = athena_event(execution_id, run.state, run.workgroup)
            if self.dice.hit(spec.lost_event):
                self.counter.add("event_lost")
                continue
            if self.dice.hit(spec.reordered_event):
                self.counter.add("event_reordered")
                self.held_events.append((now + self.rng.uniform(5, 90), event))
                continue
            due.append(event)
            if self.dice.hit(spec.duplicate_event):
                self.counter.add("event_duplicated")
                due.append(event)
        self.rng.shuffle(due)
        for start in range(0, len(due), 10):
            self.sqs.send_message_batch(
                QueueUrl=self.queues["athena-events"],
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(e)}
                    for i, e in enumerate(due[start : start + 10])
                ],
            )

    def _receive(self, queue: str, batches: int) -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = []
        for _ in range(batches):
            reply = self.sqs.receive_message(
                QueueUrl=self.queues[queue], MaxNumberOfMessages=10, VisibilityTimeout=600
            )
            messages = reply.get("Messages", [])
            if not messages:
                break
            out.append(messages)
        return out

    def _settle(self, queue: str, messages: list[dict[str, Any]], reply: dict[str, Any] | None) -> None:
        """Delete what the handler processed; failed records become visible again at once (a crashed
        invocation fails the whole batch)."""
        failed = (
            {m["MessageId"] for m in messages}
            if reply is None
            else {f["itemIdentifier"] for f in reply.get("batchItemFailures", [])}
        )
        url = self.queues[queue]
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in failed
        ]
        back = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
            if m["MessageId"] in failed
        ]
        if done:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=done)
        if back:
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=back)

    @staticmethod
    def _as_event(messages: list[dict[str, Any]], queue: str) -> dict[str, Any]:
        event = sqs_event([m["Body"] for m in messages], f"fs-chaos-{queue}")
        for record, message in zip(event["Records"], messages, strict=True):
            record["messageId"] = message["MessageId"]
            record["receiptHandle"] = message["ReceiptHandle"]
        return event

    def _invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any] | None:
        from fairshare.handlers import completion, dispatcher

        handler = completion.handler if name == "completion" else dispatcher.handler
        try:
            reply = dict(handler(event, FakeContext()))  # type: ignore[arg-type]
        except Exception as exc:
            self.handler_crashes[f"{name}:{type(exc).__name__}"] += 1
            return None
        if name == "completion":  # records that raised are batch item failures, not a crash
            for _, exc, _ in completion.processor.exceptions:
                self.handler_crashes[f"completion record:{type(exc).__name__}"] += 1
        return reply

    def _completions(self) -> None:
        for messages in self._receive("athena-events", 20):
            event = self._as_event(messages, "athena-events")
            reply = self._invoke("completion", event)
            if reply is not None and self.dice.hit(self.spec.duplicate_delivery):
                self.counter.add("sqs_duplicate_delivery")
                self._invoke("completion", event)
            self._settle("athena-events", messages, reply)

    def _dispatch(self) -> None:
        spec = self.spec
        batches = self._receive("submissions", spec.max_dispatchers)
        events = [self._as_event(m, "submissions") for m in batches]
        duplicates = [e for e in events if self.dice.hit(spec.duplicate_delivery)]
        self.counter.add("sqs_duplicate_delivery", len(duplicates))
        runs: list[dict[str, Any]] = events + duplicates
        if self.rng.random() < 0.03:  # bursts of parallel rounds, up to the reserved concurrency
            runs += [{}] * max(0, spec.max_dispatchers - len(runs))
        runs = runs[: max(spec.max_dispatchers, len(events))]
        replies: list[dict[str, Any] | None] = [None] * len(runs)

        def run(index: int) -> None:
            replies[index] = self._invoke("dispatcher", runs[index])

        if len(runs) == 1:
            run(0)
        else:
            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runs))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for messages, reply in zip(batches, replies[: len(batches)], strict=True):
            self._settle("submissions", messages, reply)

    def _tick(self) -> None:
        reply = self._invoke("dispatcher", dict(TICK))
        if reply is not None:
            self.drift_repaired += sum(abs(v) for v in reply["reconcile"]["drift"].values())

    def _redrive(self) -> None:
        from fairshare.handlers import redrive

        for name in ("submissions-dlq", "athena-events-dlq"):
            self.dlq_arrivals += self._depth(name)
        try:
            redrive.handler({"source": "aws.events"}, FakeContext())  # type: ignore[arg-type]
        except Exception as exc:
            self.handler_crashes[f"redrive:{type(exc).__name__}"] += 1

    def _depth(self, name: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def _archive(self, keep_transient: bool) -> int:
        """Move terminal queries out of the table (as TTL would); returns the queries still open."""
        open_count = 0
        for item in self._scan(
            "queries",
            ProjectionExpression="query_id, tenant, #s, error_kind, attempts",
            ExpressionAttributeNames={"#s": "status"},
        ):
            status = item["status"]["S"]
            kind = item.get("error_kind", {}).get("S")
            if status not in TERMINAL_STATUSES or (keep_transient and kind == "transient"):
                open_count += 1
                continue
            query_id = item["query_id"]["S"]
            self.archived[query_id] = {
                "status": status,
                "error_kind": kind,
                "attempts": int(item.get("attempts", {}).get("N", "0")),
                "tenant": item["tenant"]["S"],
            }
            self._serialized.delete_item(TableName="queries", Key={"query_id": {"S": query_id}})
        return open_count

    def _progress(self, started: float) -> None:
        every = self.spec.progress_every_s
        if every > 0 and self.steps % every == 0:
            elapsed = int(self.clock.now() - self.start_time)
            print(
                f"t={elapsed:>6} s  accepted {len(self.accepted):>6}  terminal {len(self.archived):>6}  "
                f"athena active {self.athena.active:>3}  faults {sum(self.counter.snapshot().values()):>6}  "
                f"wall {time.monotonic() - started:7.1f} s",
                file=sys.stderr,
                flush=True,
            )

    def step(self, now: float, submitting: bool) -> None:
        self._storms(now)
        if submitting:
            self._arrivals()
        self._events(now)
        self._completions()
        self._dispatch()
        # The schedule counts steps: the simulated clock also moves when a Lambda sleeps (backoff).
        self.steps += 1
        if self.steps % 60 == 0 and self.spec.ticks:
            self._tick()
        if self.steps % 60 == 30:
            self._redrive()
        if self.steps % 4 == 2:
            self._archive(keep_transient=True)

    # --- the run ---------------------------------------------------------------------------------
    def run(self) -> Figures:
        started = time.monotonic()
        with quiet_lambdas():
            wiring.use(self.deps)
            wiring.use_transport(None)
            try:
                return self._run(started)
            finally:
                wiring.use(None)
                wiring.use_transport(None)

    def _run(self, started: float) -> Figures:
        spec = self.spec
        self.start_time = self.clock.now()
        while self.submitted < spec.queries or self.pending:
            self.clock.advance(1.0)
            self.step(self.clock.now(), submitting=True)
            self._progress(started)
        # drain: faults stay on for a while, then stop, so that every retry path gets its last chance
        drain_started = self.clock.now()
        while self.clock.now() - drain_started < spec.max_drain_s:
            self.clock.advance(1.0)
            if self.clock.now() - drain_started > spec.max_drain_s / 2:
                self._faults_off()
            self.step(self.clock.now(), submitting=False)
            self._progress(started)
            if self.steps % 60 == 59 and self._quiescent():
                break
        self._faults_off()
        for _ in range(2 if self.spec.ticks else 0):
            self.clock.advance(float(self.config.event_grace_s) + 60)
            self._completions()
            self._tick()
        return self._figures(started)

    def _faults_off(self) -> None:
        self.faulty_ddb.enabled = False
        for name in list(vars(self.athena.faults)):
            setattr(self.athena.faults, name, 0.0)
        self.athena.foreign_active = 0
        self.athena.rate_storm = False
        self.ledger.enabled = False
        self.spec.duplicate_delivery = self.spec.lost_event = 0.0

    def _quiescent(self) -> bool:
        if self.held_events or self.athena.active:
            return False
        if any(
            self._depth(q) for q in ("submissions", "athena-events", "submissions-dlq", "athena-events-dlq")
        ):
            return False
        return self._archive(keep_transient=False) == 0

    # --- the checks ------------------------------------------------------------------------------
    def _figures(self, started: float) -> Figures:
        self._archive(keep_transient=False)
        problems: list[str] = []
        remaining = {i["query_id"]["S"]: i for i in self._scan("queries")}
        in_dlq = self._dlq_query_ids()
        lost = [q for q in self.accepted if q not in self.archived and q not in in_dlq]
        if lost:
            problems.append(f"I-1: {len(lost)} accepted queries neither terminal nor in a DLQ: {lost[:5]}")
        double = [sql for sql, n in self.athena.executions_per_sql.items() if n > 1]
        if double:
            problems.append(f"I-3: {len(double)} queries ran more than once: {double[:5]}")
        max_active = max((s.active for s in self.athena.samples), default=0)
        if max_active > self.ceiling:
            problems.append(f"I-2: {max_active} active in Athena above the limit {self.ceiling}")
        overshoot = max((c.active - c.slots for c in self._serialized.claims), default=0)
        if overshoot > 0:
            problems.append(f"I-2: a claim left the pool {overshoot} above its effective limit")
        retried = sum(n - 1 for n in self.athena.permanent_answers.values() if n > 1)
        if retried:
            problems.append(f"I-8: {retried} start calls after a permanent error")
        counters_match = self._counters_match(problems)
        terminal = Counter(a["status"] for a in self.archived.values())
        for query_id in remaining:
            problems.append(f"still in the ledger after quiescence: {query_id}")
        unexpected = {k: n for k, n in self.handler_crashes.items() if k.split(":")[1] not in EXPECTED_ERRORS}
        if unexpected:
            problems.append(f"unexpected handler errors: {dict(sorted(unexpected.items()))}")
        return Figures(
            queries=self.spec.queries,
            accepted=len(self.accepted),
            faults=self.counter.snapshot(),
            lost=len(lost),
            double_started=len(double),
            max_active=max_active,
            limit=self.ceiling,
            claim_overshoot=max(0, overshoot),
            drift_repaired=self.drift_repaired,
            dlqd=self.dlq_arrivals + len(in_dlq),
            permanent_retried=retried,
            counters_match=counters_match,
            terminal=dict(sorted(terminal.items())),
            simulated_s=int(self.clock.now() - self.start_time),
            wall_s=round(time.monotonic() - started, 1),
            handler_errors=dict(sorted(self.handler_crashes.items())),
            problems=problems,
        )

    def _dlq_query_ids(self) -> set[str]:
        ids: set[str] = set()
        for name in ("submissions-dlq", "athena-events-dlq"):
            while True:
                reply = self.sqs.receive_message(
                    QueueUrl=self.queues[name], MaxNumberOfMessages=10, VisibilityTimeout=600
                )
                if not reply.get("Messages"):
                    break
                for message in reply["Messages"]:
                    body = json.loads(message["Body"])
                    if body.get("query_id"):
                        ids.add(body["query_id"])
                    detail = body.get("detail") or {}
                    run = self.athena.runs.get(detail.get("queryExecutionId", ""))
                    if run is not None:
                        ids.add(run.token)
        return ids

    def _counters_match(self, problems: list[str]) -> bool:
        active_items = [i for i in self._scan("queries") if "active_pool" in i]
        queued_items = [i for i in self._scan("queries") if "queue_tenant" in i]
        state = {i["pk"]["S"]: i for i in self._scan("state")}
        expected: dict[tuple[str, str], int] = {("pool#DML", "active"): 0, ("pool#DDL", "active"): 0}
        for name in TENANTS:
            expected[(f"tenant#{name}", "running")] = 0
            expected[(f"tenant#{name}", "queued")] = 0
        for item in active_items:
            expected[(f"pool#{item['active_pool']['S']}", "active")] += 1
            expected[(f"tenant#{item['tenant']['S']}", "running")] += 1
        for item in queued_items:
            expected[(f"tenant#{item['tenant']['S']}", "queued")] += 1
        ok = True
        for (pk, attribute), want in expected.items():
            have = int(state.get(pk, {}).get(attribute, {}).get("N", "0"))
            if have != want:
                ok = False
                problems.append(f"counter {pk}.{attribute} = {have}, the ledger says {want}")
        return ok


def run_campaign(spec: CampaignSpec) -> Figures:
    """Run in a thread of its own: under a deep caller (pytest adds ~80 frames) CPython 3.11's frame
    stack kept crossing a 16 KiB chunk boundary, mapping and unmapping a chunk per call (2.1 million
    mmap/munmap pairs, the campaign ~1.8x slower); a fresh thread starts from an empty stack."""
    result: list[Figures] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with aws_env():
                result.append(Campaign(spec).run())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="campaign")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
