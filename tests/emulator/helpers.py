"""Fakes of the emulator's ports and small helpers shared by the emulator tests."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.ports import StoredObject


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemoryStore:
    """S3 as a dict of (bucket, key) -> bytes; buckets must exist, as in S3."""

    def __init__(self, buckets: Sequence[str] = ("data", "results")) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets = set(buckets)
        self._lock = threading.Lock()

    def _check(self, bucket: str) -> None:
        if bucket not in self.buckets:
            raise KeyError(f"NoSuchBucket: {bucket}")

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]:
        self._check(bucket)
        with self._lock:
            return [
                StoredObject(key, len(body))
                for (b, key), body in sorted(self.objects.items())
                if b == bucket and key.startswith(prefix)
            ]

    def get_object(self, bucket: str, key: str) -> bytes:
        self._check(bucket)
        with self._lock:
            return self.objects[(bucket, key)]

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._check(bucket)
        with self._lock:
            self.objects[(bucket, key)] = body

    def put(self, uri: str, body: bytes | str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.put_object(bucket, key, body.encode() if isinstance(body, str) else body, "")


class RecordingEvents:
    def __init__(self) -> None:
        self.entries: list[Mapping[str, Any]] = []

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self.entries.extend(entries)


class RecordingMetrics:
    def __init__(self) -> None:
        self.data: list[tuple[str, Mapping[str, Any]]] = []

    def put_metric_data(self, namespace: str, metric_data: Sequence[Mapping[str, Any]]) -> None:
        self.data.extend((namespace, datum) for datum in metric_data)


OUTPUT = {"OutputLocation": "s3://results/athena/"}


def start(engine: AthenaEngine, sql: str, **params: Any) -> str:
    request: dict[str, Any] = {"QueryString": sql, "ResultConfiguration": OUTPUT, **params}
    return str(engine.start_query_execution(request)["QueryExecutionId"])


def status(engine: AthenaEngine, execution_id: str) -> dict[str, Any]:
    return dict(engine.get_query_execution({"QueryExecutionId": execution_id})["QueryExecution"])


def finish(engine: AthenaEngine, clock: FakeClock, seconds: float = 10.0) -> None:
    """Let the fake clock pass, in two steps so queued queries start and then complete."""
    clock.advance(seconds)
    engine.run_due()
    clock.advance(seconds)
    engine.run_due()
