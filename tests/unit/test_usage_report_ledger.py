"""The usage report reads what the real ledger adapter writes (moto stage, real handlers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fairshare_tools.tooling.usage import aggregate, cross_check_athena, fetch_records

from tests.integration.conftest import (
    Platform,
    api_event,
    athena_event,
    build_platform,
    call_api,
    complete,
    dispatch,
    wired,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


class AthenaOverPort:
    """BatchGetQueryExecution's wire shape over the FakeAthena port (moto has no such call)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def batch_get_query_execution(self, QueryExecutionIds: list[str]) -> dict[str, object]:
        executions = self.platform.athena.batch_get(QueryExecutionIds)
        return {
            "QueryExecutions": [
                {
                    "QueryExecutionId": e.execution_id,
                    "Status": {"State": e.state},
                    "Statistics": {"DataScannedInBytes": e.bytes_scanned},
                }
                for e in executions
            ],
            "UnprocessedQueryExecutionIds": [],
        }


@pytest.fixture
def platform() -> Iterator[Platform]:
    with build_platform() as built, wired(built) as wired_platform:
        yield wired_platform


def _run(platform: Platform, key: str, user: str, sql: str, state: str, scanned: int) -> None:
    status, body = call_api(
        api_event(
            "POST", "/athena/query", {"userId": user, "queryId": uuid.uuid4().hex, "query": sql}, key=key
        )
    )
    assert status in (200, 202), body
    platform.clock.advance(3)
    dispatch()
    execution = platform.athena.execution_for(body["query_id"])
    assert execution is not None
    platform.clock.advance(2)
    platform.athena.finish(execution.execution_id, state=state, bytes_scanned=scanned)
    complete(athena_event(execution.execution_id, state, execution.workgroup))


def test_the_report_reads_the_ledger_the_platform_writes(platform: Platform) -> None:
    _run(platform, "key-alpha", "ann", "SELECT 1", "SUCCEEDED", 1000)
    _run(platform, "key-alpha", "ann", "SELECT 2", "SUCCEEDED", 3000)
    _run(platform, "key-alpha", "bob", "SELECT 3", "FAILED", 10)
    _run(platform, "key-beta", "cy", "SELECT 4", "SUCCEEDED", 500)
    now_ms = int(platform.clock.now() * 1000)
    records = list(fetch_records(platform.ddb, "queries", now_ms - 3_600_000, now_ms))
    rows = {(r.tenant, r.user): r.as_dict() for r in aggregate(records)}
    alpha = rows[("alpha", "*")]
    assert (alpha["queries"], alpha["succeeded"], alpha["failed"]) == (3, 2, 1)
    assert alpha["bytes_scanned"] == 4010
    assert alpha["queue_wait_ms_p50"] == 3000  # submitted, then admitted 3 s later
    assert alpha["engine_ms"] == 3 * 42
    assert alpha["databases"] == ["default"]
    # the seed route's userId is the caller's word: marked so
    assert rows[("alpha", "ann (self-declared)")]["queries"] == 2
    assert rows[("alpha", "bob (self-declared)")]["failed"] == 1
    assert rows[("beta", "cy (self-declared)")]["bytes_scanned"] == 500
    by_index = list(fetch_records(platform.ddb, "queries", now_ms - 3_600_000, now_ms, ["beta"]))
    assert [r.submitted_by for r in by_index] == ["cy"]
    check = cross_check_athena(AthenaOverPort(platform), records)
    assert (check.checked, check.mismatches) == (4, ())
    assert check.athena_bytes_by_tenant == {"alpha": 4010, "beta": 500}
