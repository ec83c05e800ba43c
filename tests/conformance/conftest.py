"""One ledger suite, two ledgers: every test here runs against the in-memory ledger and the DynamoDB
ledger on moto (the tables as `tests/integration` creates them), through the `Ledger` port only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fairshare.adapters.ddb_ledger import DynamoLedger
from fairshare.domain.service import ServiceDecay
from fairshare.ports import Ledger
from fairshare_tools.testing.memory_ledger import MemoryLedger

from tests.integration.conftest import SerializedCalls, create_tables
from tests.reliability.harness import aws_env

DECAY = ServiceDecay(half_life_s=600.0)


class _Switchable:
    """A boto3 client that answers ServiceUnavailable to every call while `down`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.down = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not self.down:
            return method

        def unavailable(*_: Any, **__: Any) -> None:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, name)

        return unavailable


@dataclass
class Backend:
    name: str
    ledger: Ledger
    _switch: Any

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The ledger's store cannot be reached for the duration."""
        self._switch.down = True
        try:
            yield
        finally:
            self._switch.down = False


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        memory = MemoryLedger(decay=DECAY)
        yield Backend("memory", memory, memory)
        return
    with aws_env():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        # each request atomic, as on DynamoDB (moto applies a transaction's items without a lock)
        switch = _Switchable(SerializedCalls(client))
        yield Backend("dynamodb", DynamoLedger(switch, "queries", "state", decay=DECAY), switch)


@pytest.fixture
def ledger(backend: Backend) -> Ledger:
    return backend.ledger
