"""The tick reads Athena's usage samples (moto CloudWatch) and the limit follows the room they leave."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from fairshare.adapters import usage
from fairshare.adapters.usage import CloudWatchUsage

from tests.integration.conftest import REGION, Platform, dispatch, submit, tick


def _publish(at: float, active: int, pool: str = "DML") -> None:
    """One ResourceCount datapoint, as Athena publishes it for the account."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=usage.NAMESPACE,
        MetricData=[
            {
                "MetricName": usage.METRIC,
                "Dimensions": usage.dimensions(pool),
                "Timestamp": datetime.fromtimestamp(at, tz=UTC),
                "Value": float(active),
                "Unit": "None",
            }
        ],
    )


def _throttled_at_two(platform: Platform, offset_s: float) -> float:
    """Foreign load holds all but 2 of the quota: the limit (10) is cut to 2 by a throttle."""
    platform.clock.advance(offset_s)  # each test its own stretch of moto's metric history
    platform.athena.quota = 2
    for n in range(6):
        submit(f"SELECT {n}")
    dispatch()
    pool = platform.ledger.pools(["DML"])["DML"]
    assert pool.limit_value == 2 and pool.last_throttle_at == platform.clock.now()
    return platform.clock.now()


def test_the_adapter_reads_each_pools_latest_sample(platform: Platform) -> None:
    reader = CloudWatchUsage(boto3.client("cloudwatch", region_name=REGION))
    now = 1_900_000_020.0  # a whole minute
    _publish(now - 180, 7)
    _publish(now - 60, 9)
    _publish(now - 120, 2, pool="DDL")
    _publish(now - 900, 50, pool="DDL")  # older than the lookback: not read
    samples = reader.latest(["DML", "DDL"], now)
    assert {pool: (s.at, s.active) for pool, s in samples.items()} == {
        "DML": (now - 60, 9),
        "DDL": (now - 120, 2),
    }
    assert reader.latest(["DML"], now + 3600) == {}


def test_a_sample_showing_the_foreign_load_gone_restores_the_limit_at_the_next_tick(
    platform: Platform,
) -> None:
    throttled_at = _throttled_at_two(platform, 10_000)
    platform.athena.quota = 10  # the foreign load leaves
    platform.clock.advance(150)
    _publish(throttled_at + 90, 2)  # the first whole minute after the throttle: only our own two
    reply: dict[str, Any] = tick()
    assert reply["rooms"] == {"DML": 10}
    # classic AIMD would climb one step per quiet 10 s; the room lifts it at once
    assert platform.ledger.pools(["DML"])["DML"].limit_value == 10
    assert platform.state("pool#DML")["active"] == 4  # alpha's own cap is 4


def test_a_binding_room_keeps_the_limit_from_probing_into_foreign_load(platform: Platform) -> None:
    throttled_at = _throttled_at_two(platform, 20_000)
    platform.clock.advance(150)
    _publish(throttled_at + 90, 12)  # the quota (12) is full: 2 ours, 10 foreign
    assert tick()["rooms"] == {"DML": 2}
    for minute in (1, 2, 3):  # a tick a minute, each with the minute's sample; AIMD would be at 10
        platform.clock.advance(60)
        _publish(throttled_at + 90 + 60 * minute, 12)
        assert tick()["rooms"] == {"DML": 2}
    dispatch()
    pool = platform.ledger.pools(["DML"])["DML"]
    assert pool.limit_value == 2 and platform.athena.start_calls == 3  # 2 started, 1 throttled
    assert platform.metrics.values("ForeignActiveQueries") == [10, 10, 10, 10]


def test_a_sample_from_before_the_throttle_steers_nothing(platform: Platform) -> None:
    throttled_at = _throttled_at_two(platform, 30_000)
    platform.clock.advance(30)
    _publish(throttled_at - 30, 2)  # the minute of the throttle: it would say there is room
    assert tick()["rooms"] == {"DML": 10}
    assert platform.ledger.pools(["DML"])["DML"].limit_value == 2  # wait for a later sample


def test_without_samples_the_limit_recovers_as_classic_aimd(platform: Platform) -> None:
    _throttled_at_two(platform, 40_000)
    platform.athena.quota = 10
    platform.clock.advance(35)
    assert tick()["rooms"] == {}
    assert platform.ledger.pools(["DML"])["DML"].limit_value == 5  # 2 + 3 quiet intervals of 10 s
