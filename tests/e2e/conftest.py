"""End-to-end tests: the deployed `local` stage on LocalStack, used as tenants use it (through the API).

`make localstack-test` brings the platform up (fairshare_tools.tooling.localplatform), writes the stage's
Terraform outputs to the file named by FAIRSHARE_E2E_OUTPUTS and runs this folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fairshare_tools.client import Client, QueryStatus
from fairshare_tools.tooling.localplatform import LOCALSTACK_ENDPOINT, OUTPUTS_ENV, aws_client, emulator_admin
from fairshare_tools.tooling.stage import StageAccess, stage_access
from fairshare_tools.tooling.stage import output_value as read_output

pytestmark = pytest.mark.e2e


def hint(duration_s: float, sql: str = "SELECT 1") -> str:
    """A query the emulator keeps RUNNING for `duration_s` seconds."""
    return f"/* fairshare:duration={duration_s} */ {sql}"


@pytest.fixture(scope="session")
def outputs() -> dict[str, Any]:
    path = os.environ.get(OUTPUTS_ENV)
    if not path or not Path(path).exists():
        pytest.fail(f"{OUTPUTS_ENV} must name the local stage's outputs (run `make localstack-test`)")
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def stage(outputs: dict[str, Any]) -> StageAccess:
    return stage_access("local", outputs, {"LOCALSTACK_ENDPOINT": LOCALSTACK_ENDPOINT})


@pytest.fixture(scope="session")
def clients(stage: StageAccess) -> Iterator[dict[str, Client]]:
    made = {tenant: Client(stage.endpoint, key, timeout_s=60) for tenant, key in stage.api_keys.items()}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="session")
def output_value(outputs: dict[str, Any]) -> Callable[[str], Any]:
    return lambda name: read_output(outputs, name)


@pytest.fixture(scope="session")
def emulator() -> Callable[..., Any]:
    def call(path: str, body: dict[str, Any] | None = None) -> Any:
        return emulator_admin(LOCALSTACK_ENDPOINT, path, body)

    return call


@pytest.fixture(scope="session")
def aws() -> Callable[[str], Any]:
    return lambda service: aws_client(service, LOCALSTACK_ENDPOINT)


def wait_all(client: Client, query_ids: list[str], timeout_s: float) -> dict[str, QueryStatus]:
    """Poll until every query is terminal; fail with the stragglers' states on time-out."""
    deadline = time.monotonic() + timeout_s
    done: dict[str, QueryStatus] = {}
    while True:
        for query_id in [q for q in query_ids if q not in done]:
            status = client.status(query_id)
            if status.terminal:
                done[query_id] = status
        if len(done) == len(query_ids):
            return done
        if time.monotonic() > deadline:
            waiting = {q: client.status(q).status for q in query_ids if q not in done}
            pytest.fail(
                f"{len(waiting)} of {len(query_ids)} queries not terminal after {timeout_s}s: {waiting}"
            )
        time.sleep(1.0)


POISON = "{not json"


@pytest.fixture(scope="session", autouse=True)
def poison_event(aws: Callable[[str], Any], output_value: Callable[[str], Any]) -> str:
    """A message the completion handler can never process, sent into the athena-events queue as the
    session starts. Reaching the DLQ takes it the queue's receives (2 x the 60 s visibility timeout) and
    its alarm a minute's evaluation: the other tests run meanwhile, and the recovery test quarantines it."""
    aws("sqs").send_message(QueueUrl=output_value("queue_urls")["events"], MessageBody=POISON)
    return POISON
