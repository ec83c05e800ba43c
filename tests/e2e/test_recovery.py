"""The platform under foreign load, lost events and poison messages: nothing is lost, everything recovers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fairshare_tools.client import Client

from .conftest import hint, wait_all

QUOTA = 20


def test_foreign_load_causes_throttles_and_the_platform_recovers_without_losing_queries(
    clients: dict[str, Client], aws: Callable[[str], Any], emulator: Callable[..., Any]
) -> None:
    athena = aws("athena")
    analytics = clients["analytics"]
    # Someone outside the platform takes 12 of the 20 slots for 25 s, straight on Athena.
    foreign = [
        athena.start_query_execution(
            QueryString=hint(25.0),
            WorkGroup="primary",
            ResultConfiguration={"OutputLocation": "s3://fairshare-local-data/foreign/"},
        )["QueryExecutionId"]
        for _ in range(12)
    ]
    assert emulator("state")["active"]["DML"] >= 12
    # More of ours at once than the 8 slots left: the platform meets the full quota and must adapt.
    # The effective limit is watched from the first submit on, so a dip that the recovery closes again
    # while slow submits are still going in is seen too.
    limits: list[float] = []
    submitting = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (submitting.is_set() or min(limits, default=QUOTA) == QUOTA):
            limits.append(analytics.usage().effective_limit.get("DML", QUOTA))
            time.sleep(0.5)

    submitting.set()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            ours = list(
                pool.map(lambda _: analytics.submit(hint(8.0), database="default").query_id, range(30))
            )
    finally:
        submitting.clear()
    watcher.join(timeout=120)
    lowest_limit = min(limits, default=QUOTA)
    assert lowest_limit < QUOTA, "a throttle must lower the effective limit (AIMD)"
    done = wait_all(analytics, ours, timeout_s=300)
    assert [s.status for s in done.values()].count("SUCCEEDED") == len(ours)
    for execution_id in foreign:
        athena.stop_query_execution(QueryExecutionId=execution_id)
    print(f"\n[e2e] foreign load: effective limit went down to {lowest_limit}, {len(ours)} of ours succeeded")


def test_a_lost_completion_event_is_recovered_and_a_poison_message_quarantined(
    clients: dict[str, Client],
    aws: Callable[[str], Any],
    output_value: Callable[[str], Any],
    poison_event: str,
) -> None:
    events = aws("events")
    sqs = aws("sqs")
    cloudwatch = aws("cloudwatch")
    lambdas = aws("lambda")
    queues = output_value("queue_urls")
    functions = output_value("function_names")
    rule = next(
        r["Name"]
        for r in events.list_rules()["Rules"]
        if "athena" in r["Name"] and "state" in r["Name"].lower()
    )

    # The poison (`poison_event`) has been in the events queue since the session started.
    # A lost completion event: the state-change rule has no target while the query finishes. (Removing
    # the target rather than disabling the rule: LocalStack delivers to a disabled rule's targets.)
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
    marketing = clients["marketing"]
    try:
        lost = marketing.submit(hint(1.0), database="default").query_id
        athena = aws("athena")
        deadline = time.monotonic() + 90
        while True:
            status = marketing.status(lost)
            if status.athena_execution_id:
                state = athena.get_query_execution(QueryExecutionId=status.athena_execution_id)
                if state["QueryExecution"]["Status"]["State"] == "SUCCEEDED":
                    break
            assert time.monotonic() < deadline, f"the query never finished in Athena: {status}"
            time.sleep(1)
        time.sleep(3)  # what an event would have needed to arrive
        assert marketing.status(lost).status == "RUNNING", (
            "no event arrived, so the ledger still says RUNNING"
        )
    finally:
        events.put_targets(Rule=rule, Targets=targets)

    # Reconcile (the dispatcher's tick) finishes the query; the poison lands in the DLQ and its alarm fires.
    dlq_alarm = _alarm_on(cloudwatch, "athena-events-dlq")
    deadline = time.monotonic() + 300
    reconciled = alarmed = False
    while not (reconciled and alarmed):
        reconciled = reconciled or marketing.status(lost).status == "SUCCEEDED"
        state = cloudwatch.describe_alarms(AlarmNames=[dlq_alarm])["MetricAlarms"][0]["StateValue"]
        alarmed = alarmed or state == "ALARM"
        assert time.monotonic() < deadline, f"reconciled={reconciled}, DLQ alarm state={state}"
        time.sleep(2)

    # Redrive never resends the poison: it goes, raw and with its reason, to the quarantine queue.
    depth = _visible(sqs, queues["events_dlq"])
    assert depth >= 1
    # The DLQ may also hold dead letters of earlier tests (bursts), whose depth can raise the alarm
    # before the poison has used up its receives in the events queue: redrive until the poison has
    # arrived and been quarantined, and the DLQ is empty.
    quarantined = 0
    deadline = time.monotonic() + 300
    while True:
        answer = lambdas.invoke(
            FunctionName=functions["redrive"],
            Payload=json.dumps({"queue": "athena-events", "max_messages": 500}),
        )
        report = json.loads(answer["Payload"].read() or b"null")
        assert "FunctionError" not in answer, report
        print(f"\n[e2e] redrive report: {report}")
        quarantined += report["quarantined"]["athena-events"]
        if quarantined >= 1 and _visible(sqs, queues["events_dlq"]) == 0:
            break
        assert time.monotonic() < deadline, f"nothing of the {depth} dead letters was quarantined"
        time.sleep(5)
    assert _visible(sqs, queues["events_dlq"]) == 0, "redrive left messages in the DLQ"
    parked = sqs.receive_message(
        QueueUrl=queues["events_quarantine"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    poison = [m for m in parked if m["Body"] == poison_event]
    assert poison, f"the poison is not in the quarantine: {parked}"
    attributes = {k: v["StringValue"] for k, v in poison[0]["MessageAttributes"].items()}
    assert (attributes["reason"], attributes["source_queue"]) == ("not a JSON object", "athena-events")
    for message in parked:  # back to visible, for the alarm below
        sqs.change_message_visibility(
            QueueUrl=queues["events_quarantine"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    # The DLQ alarm clears, and the quarantine's own alarm fires. LocalStack evaluates these simple
    # AWS/SQS alarms (SQS publishes every queue's depth each minute, zeros too); see localstack/README.md.
    quarantine_alarm = _alarm_on(cloudwatch, "athena-events-quarantine")
    deadline = time.monotonic() + 300
    while True:
        states = {
            name: cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
            for name in (dlq_alarm, quarantine_alarm)
        }
        if states == {dlq_alarm: "OK", quarantine_alarm: "ALARM"}:
            break
        assert time.monotonic() < deadline, f"alarm states after redrive: {states}"
        time.sleep(5)
    print(f"\n[e2e] after redrive: {states}")


def _visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _alarm_on(cloudwatch: Any, queue_suffix: str) -> str:
    return next(
        a["AlarmName"]
        for a in cloudwatch.describe_alarms()["MetricAlarms"]
        if any(d.get("Value", "").endswith(queue_suffix) for d in a.get("Dimensions", []))
    )
