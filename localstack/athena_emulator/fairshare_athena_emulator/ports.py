"""The few things the engine needs from the outside world; boto3 adapters in `aws.py`, fakes in the tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def time(self) -> float:
        return time.time()


@dataclass(slots=True, frozen=True)
class StoredObject:
    key: str
    size: int


class ObjectStore(Protocol):
    """S3, reduced to what the emulator reads (table data, the catalog) and writes (results)."""

    def list_objects(self, bucket: str, prefix: str) -> Sequence[StoredObject]: ...

    def get_object(self, bucket: str, key: str) -> bytes: ...

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class EventSink(Protocol):
    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """EventBridge PutEvents entries: Source, DetailType, Detail (JSON text), Resources, Time."""
        ...


class MetricSink(Protocol):
    def put_metric_data(self, namespace: str, metric_data: Sequence[Mapping[str, Any]]) -> None: ...
