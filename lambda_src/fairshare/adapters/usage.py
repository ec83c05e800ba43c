"""CloudWatch: Athena's service-quota usage, `AWS/Usage` `ResourceCount` `ActiveQueryCount`.

Athena publishes, per account and region, the active queries (QUEUED and RUNNING, whoever started
them) of each pool once a minute, under the dimensions Service=Athena, Type=Resource,
Resource=ActiveQueryCount and Class=DML|DDL. One GetMetricData call reads every pool's latest
datapoint of the last few minutes, at the Maximum of its minute (a count, so the most the quota held).
Periods are whole minutes and a datapoint carries its minute's start: a sample counts as taken at the
start of the minute it covers, so only a minute that began after a throttle says anything after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fairshare.ports import UsageSample

PERIOD_S = 60
LOOKBACK_S = 300
NAMESPACE, METRIC = "AWS/Usage", "ResourceCount"


def dimensions(pool: str) -> list[dict[str, str]]:
    """The dimensions of a pool's ActiveQueryCount usage metric."""
    return [
        {"Name": "Service", "Value": "Athena"},
        {"Name": "Type", "Value": "Resource"},
        {"Name": "Resource", "Value": "ActiveQueryCount"},
        {"Name": "Class", "Value": pool},
    ]


class CloudWatchUsage:
    """Implements `fairshare.ports.Usage`."""

    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    def latest(self, pools: Sequence[str], now: float) -> dict[str, UsageSample]:
        if not pools:
            return {}
        end = datetime.fromtimestamp(math.ceil(now / PERIOD_S) * PERIOD_S, tz=UTC)
        queries = [
            {
                "Id": f"pool{index}",
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": dimensions(pool)},
                    "Period": PERIOD_S,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
            for index, pool in enumerate(pools)
        ]
        reply = self._cloudwatch.get_metric_data(
            MetricDataQueries=queries,
            StartTime=end - timedelta(seconds=LOOKBACK_S),
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        samples: dict[str, UsageSample] = {}
        for result in reply.get("MetricDataResults", []):
            pool = pools[int(str(result["Id"]).removeprefix("pool"))]
            points = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
            if points:
                at, value = points[-1]
                samples[pool] = UsageSample(at=at.timestamp(), active=round(value))
        return samples
