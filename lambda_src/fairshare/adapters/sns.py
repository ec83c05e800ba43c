"""SNS: tenant notifications when a query ends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class SnsNotifier:
    """Implements `fairshare.ports.Notifier`."""

    def __init__(self, client: Any) -> None:
        self._sns = client

    def notify(self, topic_arn: str, subject: str, message: Mapping[str, Any]) -> None:
        self._sns.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(dict(message), separators=(",", ":"), default=str),
            MessageAttributes={
                "tenant": {"DataType": "String", "StringValue": str(message.get("tenant", ""))},
                "status": {"DataType": "String", "StringValue": str(message.get("status", ""))},
            },
        )
