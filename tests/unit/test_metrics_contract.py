"""Every metric the README's metrics table lists is emitted as it says: the services run on the
in-memory stage with the real EMF adapter, and their EMF output is read back (name, unit, dimensions).
Nothing is emitted that the table does not list."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from fairshare.adapters.metrics import EmfMetrics
from fairshare.ports import QueueMessage, QuotaThrottle, Transient, UsageSample
from fairshare.services.completion import on_state_change
from fairshare.services.dispatch import Dispatcher
from fairshare.services.queries import cancel
from fairshare.services.reconcile import reconcile
from fairshare.services.redrive import redrive
from fairshare.services.submission import Submission, submit
from fairshare_tools.testing.stage import MemoryStage, memory_stage
from memory_stage_config import stage_config

README = Path(__file__).resolve().parents[2] / "README.md"
NAMESPACE = "AthenaFairshare"


def _documented() -> dict[str, tuple[str, frozenset[str]]]:
    """The README's metrics table: name -> (unit, dimensions, stage included)."""
    text = README.read_text()
    section = text[text.index("### Metrics") :]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| ([\w, ]+) \|", section, re.M)
    assert rows, "no metrics table under '### Metrics' in README.md"
    return {
        name: (unit, frozenset({"stage", *(d.strip() for d in dims.split(","))})) for name, unit, dims in rows
    }


def _emf(output: str) -> Iterator[tuple[str, str, frozenset[str], Mapping[str, Any]]]:
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            [dimensions] = directive["Dimensions"]
            for metric in directive["Metrics"]:
                yield metric["Name"], metric["Unit"], frozenset(dimensions), document


class MemoryTransport:
    """Implements `fairshare.ports.QueueTransport` over lists, for redrive."""

    def __init__(self) -> None:
        self.queues: dict[str, list[QueueMessage]] = {}
        self._ids = 0

    def put(self, url: str, body: str) -> None:
        self._ids += 1
        self.queues.setdefault(url, []).append(QueueMessage(f"m-{self._ids}", f"r-{self._ids}", body))

    def receive(self, queue_url: str, max_messages: int) -> list[QueueMessage]:
        return list(self.queues.get(queue_url, [])[:max_messages])

    def send(self, queue_url: str, body: str, attributes: Mapping[str, str] | None = None) -> None:
        self.put(queue_url, body)

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        self.queues[queue_url] = [m for m in self.queues[queue_url] if m.receipt_handle != receipt_handle]


@pytest.fixture
def stage() -> MemoryStage:
    built = memory_stage(stage_config())
    for pool, ceiling in (("DML", 10.0), ("DDL", 3.0)):
        built.ledger.ensure_pool(pool, ceiling, built.clock.now())
    built.deps.concurrency = 1
    powertools = Metrics(namespace=NAMESPACE, service="contract")
    built.deps.metrics = EmfMetrics(powertools, stage="unit", namespace=NAMESPACE)
    return built


def _queued(stage: MemoryStage, tenant: str, sql: str = "SELECT 1") -> str:
    return submit(stage.deps, tenant, Submission(sql, None)).record.query_id


def _finish(stage: MemoryStage, query_id: str, bytes_scanned: int = 1024) -> str:
    execution = stage.athena.execution_for(query_id)
    assert execution is not None
    stage.athena.finish(execution.execution_id, bytes_scanned=bytes_scanned)
    return execution.execution_id


def _every_path(stage: MemoryStage) -> None:
    """Drive each path that emits a metric once at least."""
    deps = stage.deps
    alpha = [_queued(stage, "alpha") for _ in range(6)]  # cap 4: two wait for the cap
    Dispatcher(deps).run_round()
    on_state_change(deps, _finish(stage, alpha[0]), "SUCCEEDED", "wg-alpha")
    cancel(deps, "alpha", alpha[5])
    # gamma goes over its budget with a query still queued.
    gamma = _queued(stage, "gamma")
    Dispatcher(deps).run_round()
    _queued(stage, "gamma")
    on_state_change(deps, _finish(stage, gamma, bytes_scanned=5000), "SUCCEEDED", "wg-gamma")
    # A start that kept failing (transient) and one Athena refused (permanent), then a quota throttle.
    stage.athena.script.extend(
        Transient("InternalServerException", "5xx") for _ in range(deps.config.max_transient_attempts)
    )
    failed = _queued(stage, "beta")
    stage.athena.permanent_sql.add("bad")
    refused = _queued(stage, "beta", "SELECT bad")
    Dispatcher(deps).run_round()
    # A quota throttle.
    stage.athena.script.append(QuotaThrottle("TooManyRequestsException", "full"))
    _queued(stage, "beta")
    Dispatcher(deps).run_round()
    # Athena's usage sample, a lost completion event and a counter off by some.
    stage.usage.samples["DML"] = UsageSample(at=stage.clock.now(), active=9)
    dispatcher = Dispatcher(deps)
    dispatcher.observe_usage()
    _finish(stage, alpha[1])
    tenant = stage.ledger.tenants(["beta"])["beta"]
    stage.ledger.repair_counter("tenant#beta", "queued", tenant.queued, tenant.queued + 2)
    stage.clock.advance(deps.config.event_grace_s + 1)
    reconcile(deps, dispatcher)
    # Redrive: the transient failure restarted, the permanent one dropped, and poison.
    transport = MemoryTransport()
    for query_id in (failed, refused):
        transport.put(deps.config.submissions_dlq_url, json.dumps({"reason": "submit", "query_id": query_id}))
    transport.put(deps.config.submissions_dlq_url, "not json")
    redrive(deps, transport)


def test_every_metric_is_emitted_with_the_unit_and_dimensions_the_readme_gives(
    stage: MemoryStage, capsys: pytest.CaptureFixture[str]
) -> None:
    documented = _documented()
    _every_path(stage)
    emitted: dict[str, set[tuple[str, frozenset[str]]]] = {}
    for name, unit, dimensions, document in _emf(capsys.readouterr().out):
        emitted.setdefault(name, set()).add((unit, dimensions))
        assert document["stage"] == "unit"
        assert all(isinstance(document[d], str) and document[d] for d in dimensions), document

    assert sorted(set(emitted) - set(documented)) == [], "emitted but not in the README's metrics table"
    assert sorted(set(documented) - set(emitted)) == [], "in the README's metrics table but never emitted"
    for name, shapes in sorted(emitted.items()):
        assert shapes == {documented[name]}, f"{name}: the README says {documented[name]}, emitted {shapes}"


def test_queue_age_carries_the_reason_of_the_wait(
    stage: MemoryStage, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(6):
        _queued(stage, "alpha")
    stage.clock.advance(12)
    Dispatcher(stage.deps).run_round()
    ages = [
        (document["tenant"], document["reason"], document["OldestQueuedAgeSeconds"])
        for name, _, _, document in _emf(capsys.readouterr().out)
        if name == "OldestQueuedAgeSeconds"
    ]
    assert ages == [("alpha", "tenant_cap", [12.0])]
