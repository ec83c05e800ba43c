"""The engine's lifecycle, quota, idempotency, workgroups, events and metrics, driven by a fake clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.errors import AthenaApiError
from fairshare_athena_emulator.settings import EmulatorSettings

from .helpers import (
    OUTPUT,
    FakeClock,
    MemoryStore,
    RecordingEvents,
    RecordingMetrics,
    finish,
    start,
    status,
)

TOKEN = "t" * 40


def _details(events: RecordingEvents, execution_id: str) -> list[dict[str, Any]]:
    details = [json.loads(str(entry["Detail"])) for entry in events.entries]
    return [d for d in details if d["queryExecutionId"] == execution_id]


def test_a_query_goes_queued_running_succeeded_as_the_clock_passes(
    engine: AthenaEngine, clock: FakeClock
) -> None:
    submitted = clock.now
    execution_id = start(engine, "SELECT 1")
    assert status(engine, execution_id)["Status"]["State"] == "QUEUED"

    clock.advance(1.0)
    engine.run_due()
    assert status(engine, execution_id)["Status"]["State"] == "RUNNING"

    clock.advance(1.9)
    engine.run_due()
    assert status(engine, execution_id)["Status"]["State"] == "RUNNING"

    clock.advance(0.1)
    engine.run_due()
    described = status(engine, execution_id)
    assert described["Status"]["State"] == "SUCCEEDED"
    assert described["Status"]["SubmissionDateTime"] == submitted
    assert described["Status"]["CompletionDateTime"] == pytest.approx(submitted + 3.0)
    assert described["Statistics"]["QueryQueueTimeInMillis"] == 1000
    assert described["Statistics"]["EngineExecutionTimeInMillis"] == 2000
    assert described["Statistics"]["TotalExecutionTimeInMillis"] == 3000
    assert described["StatementType"] == "DML"
    assert described["WorkGroup"] == "primary"
    assert described["QueryExecutionContext"] == {"Database": "default", "Catalog": "AwsDataCatalog"}
    assert described["ResultConfiguration"]["OutputLocation"] == f"s3://results/athena/{execution_id}.csv"


def test_hints_set_queue_and_run_time_and_failure(engine: AthenaEngine, clock: FakeClock) -> None:
    quick = start(engine, "/* fairshare:queue=0 duration=0.5 */ SELECT 1")
    failing = start(engine, "SELECT 1 /* fairshare:fail=HIVE_BAD_DATA */")
    engine.run_due()
    assert status(engine, quick)["Status"]["State"] == "RUNNING"
    clock.advance(0.5)
    engine.run_due()
    assert status(engine, quick)["Status"]["State"] == "SUCCEEDED"

    finish(engine, clock)
    failed = status(engine, failing)["Status"]
    assert failed["State"] == "FAILED"
    assert failed["StateChangeReason"] == "HIVE_BAD_DATA"
    assert failed["AthenaError"]["ErrorCategory"] == 2
    assert failed["AthenaError"]["ErrorMessage"] == "HIVE_BAD_DATA"


def test_a_start_over_the_pool_quota_raises_too_many_requests(engine: AthenaEngine, clock: FakeClock) -> None:
    for _ in range(3):
        start(engine, "SELECT 1")
    with pytest.raises(AthenaApiError) as raised:
        start(engine, "SELECT 2")
    assert raised.value.code == "TooManyRequestsException"
    assert raised.value.status == 400
    assert raised.value.body()["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"

    # DDL is a separate pool: still free while DML is full.
    start(engine, "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://data/t/'")
    assert engine.active_counts() == {"DML": 3, "DDL": 1}

    finish(engine, clock)
    assert engine.active_counts() == {"DML": 0, "DDL": 0}
    start(engine, "SELECT 2")


def test_ctas_counts_as_dml_and_show_as_ddl(engine: AthenaEngine) -> None:
    ctas = start(engine, "CREATE TABLE x AS SELECT 1")
    show = start(engine, "SHOW TABLES")
    assert engine.active_counts() == {"DML": 1, "DDL": 1}
    assert status(engine, ctas)["StatementType"] == "DML"
    assert status(engine, show)["StatementType"] == "UTILITY"


def test_the_same_client_request_token_returns_the_same_execution_even_when_full(
    engine: AthenaEngine,
) -> None:
    first = start(engine, "SELECT 1", ClientRequestToken=TOKEN)
    start(engine, "SELECT 2")
    start(engine, "SELECT 3")
    assert start(engine, "SELECT 1", ClientRequestToken=TOKEN) == first
    assert engine.active_counts()["DML"] == 3
    with pytest.raises(AthenaApiError):
        start(engine, "SELECT 1", ClientRequestToken="u" * 40)


def test_a_token_of_the_wrong_length_is_rejected(engine: AthenaEngine) -> None:
    with pytest.raises(AthenaApiError) as raised:
        start(engine, "SELECT 1", ClientRequestToken="short")
    assert raised.value.code == "InvalidRequestException"


def test_parallel_starts_never_exceed_the_quota(
    clock: FakeClock, store: MemoryStore, events: RecordingEvents, metrics: RecordingMetrics
) -> None:
    settings = EmulatorSettings(dml_quota=7)
    engine = AthenaEngine("111122223333", "us-east-1", settings, clock, store, events, metrics)
    barrier = threading.Barrier(40)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one_start(index: int) -> None:
        barrier.wait()
        try:
            start(engine, f"SELECT {index}")
            outcome = "started"
        except AthenaApiError as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one_start, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("started") == 7
    assert outcomes.count("TooManyRequestsException") == 33
    assert engine.active_counts()["DML"] == 7


def test_stop_cancels_a_live_query_and_frees_its_slot(engine: AthenaEngine, clock: FakeClock) -> None:
    ids = [start(engine, "SELECT 1") for _ in range(3)]
    engine.stop_query_execution({"QueryExecutionId": ids[0]})
    cancelled = status(engine, ids[0])["Status"]
    assert cancelled["State"] == "CANCELLED"
    assert cancelled["CompletionDateTime"] == clock.now
    assert engine.active_counts()["DML"] == 2
    start(engine, "SELECT 4")
    finish(engine, clock)
    assert status(engine, ids[0])["Status"]["State"] == "CANCELLED"
    engine.stop_query_execution({"QueryExecutionId": ids[1]})  # already terminal: no change
    assert status(engine, ids[1])["Status"]["State"] == "SUCCEEDED"


def test_unknown_ids_are_unprocessed_in_a_batch_get(engine: AthenaEngine) -> None:
    known = start(engine, "SELECT 1")
    answer = engine.batch_get_query_execution({"QueryExecutionIds": [known, "nope"]})
    assert [e["QueryExecutionId"] for e in answer["QueryExecutions"]] == [known]
    assert answer["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "nope"
    with pytest.raises(AthenaApiError):
        engine.batch_get_query_execution({"QueryExecutionIds": [known] * 51})
    with pytest.raises(AthenaApiError) as raised:
        engine.get_query_execution({"QueryExecutionId": "nope"})
    assert raised.value.code == "InvalidRequestException"


def test_list_query_executions_pages_newest_first(engine: AthenaEngine, clock: FakeClock) -> None:
    engine.settings.update({"dml_quota": 100})
    ids = [start(engine, f"SELECT {i}") for i in range(5)]
    first = engine.list_query_executions({"MaxResults": 3})
    second = engine.list_query_executions({"MaxResults": 3, "NextToken": first["NextToken"]})
    assert first["QueryExecutionIds"] + second["QueryExecutionIds"] == list(reversed(ids))
    assert "NextToken" not in second


def test_state_change_events_follow_each_transition(
    engine: AthenaEngine, clock: FakeClock, events: RecordingEvents
) -> None:
    execution_id = start(engine, "SELECT 1")
    finish(engine, clock)
    details = _details(events, execution_id)
    assert [(d.get("previousState"), d["currentState"]) for d in details] == [
        (None, "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "SUCCEEDED"),
    ]
    assert [d["sequenceNumber"] for d in details] == ["1", "2", "3"]
    assert {d["workgroupName"] for d in details} == {"primary"}
    assert {d["statementType"] for d in details} == {"DML"}
    assert all(
        e["Source"] == "aws.athena" and e["DetailType"] == "Athena Query State Change" for e in events.entries
    )


def test_a_failed_query_event_carries_the_athena_error(
    engine: AthenaEngine, clock: FakeClock, events: RecordingEvents
) -> None:
    execution_id = start(engine, "SELECT 1 /* fairshare:fail=BOOM */")
    finish(engine, clock)
    last = _details(events, execution_id)[-1]
    assert last["currentState"] == "FAILED"
    assert last["athenaError"]["errorMessage"] == "BOOM"
    assert last["athenaError"]["errorCategory"] == 2.0


def test_events_can_be_disabled(engine: AthenaEngine, clock: FakeClock, events: RecordingEvents) -> None:
    engine.settings.update({"events_enabled": False})
    start(engine, "SELECT 1")
    finish(engine, clock)
    assert events.entries == []


def test_completion_metrics_only_for_workgroups_that_publish(
    engine: AthenaEngine, clock: FakeClock, metrics: RecordingMetrics
) -> None:
    engine.create_work_group({"Name": "quiet", "Configuration": {"ResultConfiguration": OUTPUT}})
    start(engine, "SELECT 1", WorkGroup="quiet")
    finish(engine, clock)
    assert [d for ns, d in metrics.data if ns == "AWS/Athena"] == []

    start(engine, "SELECT 1")  # primary publishes
    finish(engine, clock)
    athena = [d for ns, d in metrics.data if ns == "AWS/Athena"]
    names = {d["MetricName"] for d in athena}
    assert names == {
        "TotalExecutionTime",
        "ProcessedBytes",
        "QueryQueueTime",
        "EngineExecutionTime",
        "QueryPlanningTime",
        "ServiceProcessingTime",
    }
    full = next(d for d in athena if d["MetricName"] == "TotalExecutionTime" and len(d["Dimensions"]) == 3)
    assert {x["Name"]: x["Value"] for x in full["Dimensions"]} == {
        "QueryState": "SUCCEEDED",
        "QueryType": "DML",
        "WorkGroup": "primary",
    }


def test_usage_metric_is_emitted_periodically_while_queries_are_active(
    engine: AthenaEngine, clock: FakeClock, metrics: RecordingMetrics
) -> None:
    engine.settings.update({"usage_metric_interval_seconds": 60, "queue_seconds": 500})
    start(engine, "SELECT 1")
    start(engine, "SELECT 2")
    engine.run_due()
    clock.advance(30)
    engine.run_due()
    clock.advance(30)
    engine.run_due()
    usage = [d for ns, d in metrics.data if ns == "AWS/Usage"]
    assert [d["Value"] for d in usage] == [2.0, 2.0]
    dims = {x["Name"]: x["Value"] for x in usage[0]["Dimensions"]}
    assert dims == {"Service": "Athena", "Type": "Resource", "Resource": "ActiveQueryCount", "Class": "DML"}


def test_workgroup_lifecycle_as_terraform_uses_it(engine: AthenaEngine) -> None:
    engine.create_work_group(
        {
            "Name": "tenant-a",
            "Description": "team a",
            "Configuration": {
                "ResultConfiguration": {"OutputLocation": "s3://results/a/"},
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": 10_737_418_240,
                "EngineVersion": {"SelectedEngineVersion": "AUTO"},
            },
            "Tags": [{"Key": "tenant", "Value": "a"}],
        }
    )
    workgroup = engine.get_work_group({"WorkGroup": "tenant-a"})["WorkGroup"]
    assert workgroup["Configuration"]["EngineVersion"] == {
        "SelectedEngineVersion": "AUTO",
        "EffectiveEngineVersion": "Athena engine version 3",
    }
    assert workgroup["State"] == "ENABLED" and workgroup["Description"] == "team a"
    arn = engine.workgroup_arn("tenant-a")
    assert engine.list_tags_for_resource({"ResourceARN": arn})["Tags"] == [{"Key": "tenant", "Value": "a"}]

    engine.update_work_group(
        {
            "WorkGroup": "tenant-a",
            "Description": "team a, v2",
            "ConfigurationUpdates": {
                "ResultConfigurationUpdates": {"OutputLocation": "s3://results/a2/"},
                "RemoveBytesScannedCutoffPerQuery": True,
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
            },
        }
    )
    updated = engine.get_work_group({"WorkGroup": "tenant-a"})["WorkGroup"]
    assert updated["Configuration"]["ResultConfiguration"] == {"OutputLocation": "s3://results/a2/"}
    assert "BytesScannedCutoffPerQuery" not in updated["Configuration"]
    assert updated["Configuration"]["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    assert updated["Description"] == "team a, v2"

    engine.tag_resource({"ResourceARN": arn, "Tags": [{"Key": "x", "Value": "1"}]})
    engine.untag_resource({"ResourceARN": arn, "TagKeys": ["tenant"]})
    assert engine.list_tags_for_resource({"ResourceARN": arn})["Tags"] == [{"Key": "x", "Value": "1"}]
    names = [w["Name"] for w in engine.list_work_groups({})["WorkGroups"]]
    assert names == ["primary", "tenant-a"]

    with pytest.raises(AthenaApiError, match="already created"):
        engine.create_work_group({"Name": "tenant-a"})
    engine.delete_work_group({"WorkGroup": "tenant-a", "RecursiveDeleteOption": True})
    with pytest.raises(AthenaApiError, match="is not found") as raised:
        engine.get_work_group({"WorkGroup": "tenant-a"})
    assert raised.value.code == "InvalidRequestException"
    with pytest.raises(AthenaApiError):
        engine.delete_work_group({"WorkGroup": "primary"})


def test_a_query_in_an_unknown_workgroup_is_an_invalid_request(engine: AthenaEngine) -> None:
    with pytest.raises(AthenaApiError, match="is not found") as raised:
        start(engine, "SELECT 1", WorkGroup="nope")
    assert raised.value.code == "InvalidRequestException"


def test_an_enforced_workgroup_output_location_overrides_the_clients(engine: AthenaEngine) -> None:
    engine.create_work_group(
        {
            "Name": "enforced",
            "Configuration": {
                "ResultConfiguration": {"OutputLocation": "s3://results/enforced/"},
                "EnforceWorkGroupConfiguration": True,
            },
        }
    )
    engine.create_work_group(
        {"Name": "loose", "Configuration": {"ResultConfiguration": {"OutputLocation": "s3://results/loose/"}}}
    )
    enforced = start(engine, "SELECT 1", WorkGroup="enforced")
    loose = start(engine, "SELECT 1", WorkGroup="loose")
    assert status(engine, enforced)["ResultConfiguration"]["OutputLocation"].startswith(
        "s3://results/enforced/"
    )
    assert status(engine, loose)["ResultConfiguration"]["OutputLocation"].startswith("s3://results/athena/")


def test_a_start_without_any_output_location_is_rejected(engine: AthenaEngine) -> None:
    with pytest.raises(AthenaApiError, match="No output location"):
        engine.start_query_execution({"QueryString": "SELECT 1"})


def test_a_cutoff_below_athenas_minimum_is_rejected(engine: AthenaEngine) -> None:
    with pytest.raises(AthenaApiError, match="at least"):
        engine.create_work_group({"Name": "tiny", "Configuration": {"BytesScannedCutoffPerQuery": 1000}})


def test_a_query_scanning_more_than_the_cutoff_fails(engine: AthenaEngine, clock: FakeClock) -> None:
    engine.create_work_group(
        {
            "Name": "capped",
            "Configuration": {"ResultConfiguration": OUTPUT, "BytesScannedCutoffPerQuery": 10_000_000},
        }
    )
    over = start(engine, "SELECT 1 /* fairshare:scanned=10000001 */", WorkGroup="capped")
    under = start(engine, "SELECT 1 /* fairshare:scanned=10000000 */", WorkGroup="capped")
    finish(engine, clock)
    failed = status(engine, over)
    assert failed["Status"]["State"] == "FAILED"
    assert failed["Status"]["StateChangeReason"].startswith("Query exhausted bytes scanned limit")
    assert failed["Status"]["AthenaError"]["ErrorCategory"] == 2
    assert failed["Statistics"]["DataScannedInBytes"] == 10_000_001
    assert status(engine, under)["Status"]["State"] == "SUCCEEDED"


def test_disabled_workgroups_refuse_queries(engine: AthenaEngine) -> None:
    engine.create_work_group({"Name": "off", "Configuration": {"ResultConfiguration": OUTPUT}})
    engine.update_work_group({"WorkGroup": "off", "State": "DISABLED"})
    with pytest.raises(AthenaApiError, match="disabled"):
        start(engine, "SELECT 1", WorkGroup="off")


def test_quota_changes_apply_to_the_next_start(engine: AthenaEngine) -> None:
    engine.settings.update({"dml_quota": 1})
    start(engine, "SELECT 1")
    with pytest.raises(AthenaApiError):
        start(engine, "SELECT 1")
    engine.settings.update({"dml_quota": 2})
    start(engine, "SELECT 1")


def test_next_deadline_tells_the_scheduler_when_to_wake(engine: AthenaEngine, clock: FakeClock) -> None:
    assert engine.run_due() is None
    start(engine, "SELECT 1")
    assert engine.run_due() == pytest.approx(clock.now + 1.0)


def test_a_delivery_lost_to_a_shut_down_lane_is_scheduled_again(
    settings: EmulatorSettings,
    clock: FakeClock,
    store: MemoryStore,
    events: RecordingEvents,
    metrics: RecordingMetrics,
) -> None:
    submitted: list[Future[None]] = []

    def lane(work: Callable[[], None]) -> Future[None]:
        future: Future[None] = Future()
        if not submitted:
            future.cancel()  # the first drain is dropped, as by a shut-down executor
        else:
            work()
            future.set_result(None)
        submitted.append(future)
        return future

    engine = AthenaEngine(
        "111122223333", "us-east-1", settings, clock, store, events, metrics, publish_in_order=lane
    )
    execution_id = start(engine, "SELECT 1")
    engine.run_due()
    assert events.entries == []
    clock.advance(1.0)
    engine.run_due()
    assert [d["currentState"] for d in _details(events, execution_id)] == ["QUEUED", "RUNNING"]


def test_terminal_events_are_recorded_with_when_they_reached_the_bus(
    engine: AthenaEngine, clock: FakeClock
) -> None:
    execution_id = start(engine, "SELECT 1")
    clock.advance(1.0)
    engine.run_due()  # RUNNING: published, but not a terminal state
    assert engine.published_events() == []
    clock.advance(2.0)
    engine.run_due()
    assert engine.published_events() == [{"id": execution_id, "state": "SUCCEEDED", "at": clock.now}]
