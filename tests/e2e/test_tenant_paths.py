"""What a tenant does every day: priorities, results, cancel, and what it must not be able to do."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from fairshare_tools.client import ApiError, Client
from fairshare_tools.tooling.localplatform import trips_csv

from .conftest import hint, wait_all


def _admitted_at(client: Client, query_id: str) -> int:
    status = client.status(query_id)
    assert status.submitted_at is not None and status.timings.queued_ms is not None, status
    return status.submitted_at + status.timings.queued_ms


def test_priority_order_holds_within_a_tenant(clients: dict[str, Client]) -> None:
    finance = clients["finance"]
    # More low-priority queries than the quota (20), submitted at once and long enough that some still
    # wait when the high-priority ones arrive.
    with ThreadPoolExecutor(max_workers=8) as pool:
        low = list(
            pool.map(lambda _: finance.submit(hint(10.0), database="default", priority=0).query_id, range(26))
        )
    time.sleep(1.0)
    high_submitted_ms = int(time.time() * 1000)
    high = [finance.submit(hint(1.0), database="default", priority=2).query_id for _ in range(3)]
    wait_all(finance, low + high, timeout_s=180)
    high_admitted = [_admitted_at(finance, q) for q in high]
    late_low = [t for t in (_admitted_at(finance, q) for q in low) if t > high_submitted_ms]
    assert late_low, "the low-priority backlog drained before the high-priority queries arrived"
    assert max(high_admitted) <= min(late_low), (
        f"a low-priority query was admitted at {min(late_low)} ms, "
        f"before a high-priority one at {max(high_admitted)} ms"
    )


def test_results_come_back_through_the_presigned_url_and_match_duckdb(
    clients: dict[str, Client], tmp_path: Path
) -> None:
    sql = (
        "SELECT vendor, count(*) AS trips, round(sum(fare), 2) AS revenue "
        "FROM trips GROUP BY vendor ORDER BY vendor"
    )
    analytics = clients["analytics"]
    final = analytics.run(sql, database="default", timeout_s=120)
    query_id = final.query_id
    assert final.status == "SUCCEEDED", final
    assert final.bytes_scanned == len(trips_csv()), "bytes scanned are the size of the objects read"

    page = analytics.results_page(query_id)
    assert [c.name for c in page.columns] == ["vendor", "trips", "revenue"]
    assert page.download_url
    downloaded = requests.get(page.download_url, timeout=30)
    assert downloaded.status_code == 200, downloaded.text[:300]
    rows = list(csv.reader(io.StringIO(downloaded.text)))
    assert rows[0] == ["vendor", "trips", "revenue"]

    with duckdb.connect() as db:
        local_copy = tmp_path / "trips.csv"
        local_copy.write_bytes(trips_csv())
        db.execute("CREATE TABLE trips AS SELECT * FROM read_csv_auto(?)", [str(local_copy)])
        expected = db.execute(sql).fetchall()
    assert [(r[0], int(r[1]), float(r[2])) for r in rows[1:]] == [
        (v, int(n), float(f)) for v, n, f in expected
    ]
    assert [(r[0], int(r[1] or 0), float(r[2] or 0)) for r in page.rows] == [
        (v, int(n), float(f)) for v, n, f in expected
    ]


def test_cancel_works_for_queued_and_running_queries(
    clients: dict[str, Client], aws: Callable[[str], Any]
) -> None:
    finance = clients["finance"]
    # as many as the platform's limit (the quota, 20; finance may use all of it): the next one waits
    with ThreadPoolExecutor(max_workers=8) as pool:
        running = list(pool.map(lambda _: finance.submit(hint(60.0), database="default").query_id, range(20)))
    queued = finance.submit(hint(60.0), database="default").query_id
    deadline = time.monotonic() + 90
    while any(finance.status(q).status != "RUNNING" for q in running):
        assert time.monotonic() < deadline, {q: finance.status(q).status for q in running}
        time.sleep(1)
    assert finance.status(queued).status == "QUEUED"

    assert finance.cancel(queued).status == "CANCELLED"
    assert finance.status(queued).status == "CANCELLED"
    assert finance.status(queued).athena_execution_id is None, "a cancelled queued query never reaches Athena"

    victim = running[0]
    finance.cancel(victim)
    execution_id = finance.status(victim).athena_execution_id
    assert execution_id
    athena = aws("athena")
    deadline = time.monotonic() + 60
    while (
        athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]["State"]
        != "CANCELLED"
    ):
        assert time.monotonic() < deadline, "Athena never saw the stop"
        time.sleep(1)
    done = wait_all(finance, [victim], timeout_s=60)
    assert done[victim].status == "CANCELLED"
    for query_id in running[1:]:
        finance.cancel(query_id)
    wait_all(finance, running, timeout_s=90)
    with pytest.raises(ApiError) as conflict:
        finance.cancel(victim)
    assert conflict.value.status == 409


def test_another_tenants_query_is_not_found_and_bad_input_is_refused(clients: dict[str, Client]) -> None:
    mine = clients["marketing"].submit(hint(0.5), database="default").query_id
    intruder = clients["analytics"]
    for call in (intruder.status, intruder.cancel, intruder.results_page):
        with pytest.raises(ApiError) as missing:
            call(mine)
        assert missing.value.status == 404, (call.__name__, missing.value)
    assert all(q.query_id != mine for q in intruder.list_queries(limit=100))

    bad = [
        ({"sql": "", "database": "default"}, 400),
        ({"sql": "SELECT 1; SELECT 2", "database": "default"}, 400),
        ({"sql": "SELECT 1", "database": "not_mine"}, 400),
        ({"sql": "SELECT 1", "database": "default", "priority": 99}, 400),
        ({"sql": "DROP TABLE trips", "database": "default"}, 403),
        ({"sql": "SELECT 1", "database": "default", "client_token": "short"}, 400),
        ({"sql": "x" * 262_145, "database": "default"}, 413),
    ]
    for body, expected in bad:
        answer = intruder._session.post(f"{intruder.endpoint}/queries", json=body, timeout=30)
        assert answer.status_code == expected, (str(body)[:80], answer.status_code, answer.text[:200])
        assert answer.json()["error"]["message"], answer.text[:200]
    unauthenticated = requests.get(f"{intruder.endpoint}/usage", timeout=30)
    assert unauthenticated.status_code == 403
    wait_all(clients["marketing"], [mine], timeout_s=120)
