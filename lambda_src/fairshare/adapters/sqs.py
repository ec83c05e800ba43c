"""SQS: wake-ups for the dispatcher and raw queue access for redrive."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fairshare.ports import QueueMessage


class SqsWakeups:
    """Implements `fairshare.ports.Wakeups`."""

    def __init__(self, client: Any, queue_url: str, dlq_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url
        self._dlq_url = dlq_url

    @staticmethod
    def body(reason: str, query_id: str | None) -> str:
        return json.dumps({"reason": reason, "query_id": query_id}, separators=(",", ":"))

    def wake(self, reason: str, query_id: str | None = None) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=self.body(reason, query_id))

    def dead_letter(self, reason: str, query_id: str) -> None:
        self._sqs.send_message(QueueUrl=self._dlq_url, MessageBody=self.body(reason, query_id))


class SqsTransport:
    """Implements `fairshare.ports.QueueTransport`."""

    def __init__(self, client: Any) -> None:
        self._sqs = client

    def receive(self, queue_url: str, max_messages: int) -> list[QueueMessage]:
        reply = self._sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=max(1, min(10, max_messages)), WaitTimeSeconds=0
        )
        return [
            QueueMessage(message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"], body=m["Body"])
            for m in reply.get("Messages", [])
        ]

    def send(self, queue_url: str, body: str, attributes: Mapping[str, str] | None = None) -> None:
        extra: dict[str, Any] = {}
        if attributes:
            extra["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
            }
        self._sqs.send_message(QueueUrl=queue_url, MessageBody=body, **extra)

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)
