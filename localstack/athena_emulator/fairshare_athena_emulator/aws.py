"""boto3 adapters of the engine's ports (S3, EventBridge, CloudWatch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairshare_athena_emulator.ports import StoredObject

_PUT_EVENTS_BATCH = 10  # EventBridge accepts at most 10 entries per PutEvents call
_PUT_METRICS_BATCH = 1000


class S3ObjectStore:
    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]:
        found: list[StoredObject] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(StoredObject(item["Key"], int(item["Size"])) for item in page.get("Contents", []))
        return found

    def get_object(self, bucket: str, key: str) -> bytes:
        body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


class EventBridgeSink:
    def __init__(self, events_client: Any) -> None:
        self._events = events_client

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(entries), _PUT_EVENTS_BATCH):
            self._events.put_events(Entries=list(entries[start : start + _PUT_EVENTS_BATCH]))


class CloudWatchSink:
    def __init__(self, cloudwatch_client: Any) -> None:
        self._cloudwatch = cloudwatch_client

    def put_metric_data(self, namespace: str, metric_data: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(metric_data), _PUT_METRICS_BATCH):
            self._cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=list(metric_data[start : start + _PUT_METRICS_BATCH])
            )
