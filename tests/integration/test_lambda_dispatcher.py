"""The dispatcher against moto DynamoDB and the Athena fake: I-2, I-3, I-7, I-8."""

from __future__ import annotations

import threading

from fairshare.handlers import dispatcher as dispatcher_handler
from fairshare.ports import Permanent, QuotaThrottle, RateThrottle, Transient
from fairshare.services.dispatch import Dispatcher
from fairshare.services.reconcile import reconcile

from tests.integration.conftest import FakeContext, Platform, dispatch, sqs_event, submit, tick


def _status(platform: Platform, query_id: str) -> str:
    record = platform.ledger.get(query_id)
    assert record is not None
    return record.status


def test_a_wake_up_admits_queued_queries_up_to_the_tenant_cap(platform: Platform) -> None:
    ids = [submit(f"SELECT {n}")[1]["query_id"] for n in range(6)]
    reply = dispatch()

    assert reply == {"batchItemFailures": []}
    assert [_status(platform, q) for q in ids] == ["RUNNING"] * 4 + ["QUEUED"] * 2  # max_concurrency 4
    assert platform.state("tenant#alpha")["running"] == 4
    assert platform.state("tenant#alpha")["queued"] == 2
    assert platform.state("pool#DML")["active"] == 4
    assert platform.metrics.total("StartQueryCount", tenant="alpha") == 4


def test_higher_priority_is_admitted_first_and_fifo_within_a_priority(platform: Platform) -> None:
    platform.athena.quota = 2
    low = [submit(f"SELECT {n}", key="key-beta", priority=0)[1]["query_id"] for n in range(2)]
    high = submit("SELECT 'high'", key="key-beta", priority=2)[1]["query_id"]
    dispatch()

    assert _status(platform, high) == "RUNNING"
    assert [_status(platform, q) for q in low] == ["RUNNING", "QUEUED"]


def test_an_over_quota_throttle_requeues_at_the_head_and_lowers_the_limit(platform: Platform) -> None:
    platform.athena.quota = 2  # foreign load holds the rest of the account's quota
    ids = [submit(f"SELECT {n}")[1]["query_id"] for n in range(4)]
    dispatch()

    statuses = [_status(platform, q) for q in ids]
    third = platform.ledger.get(ids[2])
    assert statuses == ["RUNNING", "RUNNING", "QUEUED", "QUEUED"]
    assert third is not None and third.attempts == 0  # I-7: a throttle is no attempt
    assert platform.state("pool#DML")["active"] == 2
    # the throttled start gave its slot back uncharged: only the two running hold claim times
    claimed_ms = int(platform.clock.now() * 1000)
    assert platform.state("tenant#alpha") | {"seq": 0} == {
        "running": 2,
        "queued": 2,
        "seq": 0,
        "held_ms": 2 * claimed_ms,
        "claimed_ms": claimed_ms,
    }
    pool = platform.ledger.pools(["DML"])["DML"]
    assert pool.limit_value == 2  # min(10 * 0.5, active when full)
    assert pool.last_throttle_at == platform.clock.now()
    # one tenant's admissions go in its order: after the third was refused, the fourth was not tried
    assert platform.metrics.total("ThrottlingErrorCount") == 1
    # the throttled query is still the head: it is the next one admitted once a slot frees up
    assert submit("SELECT 'later'")[0] == 202
    platform.athena.quota = 3
    platform.clock.advance(10)  # one recovery interval: the limit grows by one
    dispatch()
    assert _status(platform, ids[2]) == "RUNNING"
    assert _status(platform, ids[3]) == "QUEUED"


def test_the_limit_recovers_additively_while_no_throttles_are_seen(platform: Platform) -> None:
    platform.athena.quota = 2
    for n in range(3):
        submit(f"SELECT {n}")
    dispatch()
    platform.athena.quota = 12
    platform.clock.advance(35)
    dispatch()

    assert platform.ledger.pools(["DML"])["DML"].limit_value == 5  # 2 + 3 quiet intervals


def test_a_permanent_error_is_not_retried(platform: Platform) -> None:
    platform.athena.permanent_sql.add("missing_table")
    query_id = submit("SELECT * FROM missing_table")[1]["query_id"]
    dispatch()

    record = platform.ledger.get(query_id)
    assert record is not None
    assert (record.status, record.error_kind, record.error_code) == (
        "FAILED",
        "permanent",
        "InvalidRequestException",
    )
    assert platform.athena.start_calls == 1
    assert platform.state("pool#DML")["active"] == 0
    assert platform.state("tenant#alpha")["running"] == 0
    assert platform.queue_depth("submissions-dlq") == 0


def test_a_transient_error_is_retried_with_backoff_then_succeeds(platform: Platform) -> None:
    platform.athena.script.extend(
        [Transient("InternalServerException", "5xx"), RateThrottle("ThrottlingException", "rate")]
    )
    query_id = submit()[1]["query_id"]
    dispatch()

    record = platform.ledger.get(query_id)
    assert record is not None and (record.status, record.attempts) == ("RUNNING", 2)
    assert len(platform.clock.slept) == 2 and all(0 <= s <= 5 for s in platform.clock.slept)


def test_a_transient_error_is_retried_then_failed_and_dead_lettered(platform: Platform) -> None:
    platform.athena.script.extend(Transient("InternalServerException", "5xx") for _ in range(5))
    query_id = submit()[1]["query_id"]
    platform.drain("submissions")
    dispatch()

    record = platform.ledger.get(query_id)
    assert record is not None
    assert (record.status, record.error_kind, record.attempts) == ("FAILED", "transient", 3)
    assert platform.athena.start_calls == 3  # max_transient_attempts
    assert platform.drain("submissions-dlq") == [{"reason": "submit", "query_id": query_id}]
    assert platform.state("pool#DML")["active"] == 0


def test_a_failed_round_reports_every_wake_up_as_a_batch_failure(platform: Platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(self: Dispatcher) -> None:
        raise RuntimeError("ledger exploded")

    monkeypatch.setattr(Dispatcher, "run_round", broken)
    reply = dispatcher_handler.handler(sqs_event([{"reason": "submit"}, {"reason": "submit"}]), FakeContext())  # type: ignore[arg-type]

    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}


def test_weighted_fair_share_across_tenants(platform: Platform) -> None:
    platform.ddb.put_item(
        TableName="state",
        Item={
            "pk": {"S": "pool#DML"},
            "active": {"N": "0"},
            "limit_value": {"N": "3"},
            "limit_changed_at": {"N": str(platform.clock.now())},
        },
    )
    for n in range(4):
        submit(f"SELECT {n}")
        submit(f"SELECT {n}", key="key-beta")
    dispatch()

    # alpha weighs 2, beta 1: of three slots alpha gets two
    assert platform.state("tenant#alpha")["running"] == 2
    assert platform.state("tenant#beta")["running"] == 1


def test_ten_parallel_dispatchers_never_push_active_above_the_limit(platform: Platform) -> None:
    platform.ddb.put_item(
        TableName="state",
        Item={
            "pk": {"S": "pool#DML"},
            "active": {"N": "0"},
            "limit_value": {"N": "5"},
            "limit_changed_at": {"N": str(platform.clock.now())},
        },
    )
    for key in ("key-alpha", "key-beta", "key-delta"):
        for n in range(4):
            submit(f"SELECT {n}", key=key)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Dispatcher(platform.deps).run_round()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    running = sum(1 for item in platform.query_items() if item["status"]["S"] == "RUNNING")
    assert 1 <= platform.athena.peak_active <= 5
    assert platform.state("pool#DML")["active"] == running == len(platform.athena.executions)
    # a later round fills what contention left free, and no more
    Dispatcher(platform.deps).run_round()
    assert platform.state("pool#DML")["active"] == 5
    assert platform.athena.peak_active == 5
    assert len(platform.athena.executions) == 5


def test_a_crash_after_start_before_the_ledger_write_is_reconciled_with_the_same_execution(
    platform: Platform,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    query_id = submit()[1]["query_id"]

    def crash(*_: object) -> bool:
        raise TimeoutError("Lambda timed out after StartQueryExecution")

    monkeypatch.setattr(platform.ledger, "mark_running", crash)
    dispatch()
    monkeypatch.undo()
    assert _status(platform, query_id) == "ADMITTED"
    first = platform.athena.execution_for(query_id)
    assert first is not None

    platform.clock.advance(31)
    tick()

    record = platform.ledger.get(query_id)
    assert record is not None
    assert (record.status, record.athena_execution_id) == ("RUNNING", first.execution_id)  # I-3
    assert len(platform.athena.executions) == 1
    assert platform.athena.start_calls == 2
    assert platform.state("pool#DML")["active"] == 1


def test_a_lost_completion_event_is_recovered_by_reconcile(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    dispatch()
    execution = platform.athena.execution_for(query_id)
    assert execution is not None
    platform.athena.finish(execution.execution_id, bytes_scanned=4096)

    tick()  # within the grace period: no poll yet
    assert _status(platform, query_id) == "RUNNING"
    platform.clock.advance(121)
    reply = tick()

    record = platform.ledger.get(query_id)
    assert record is not None and (record.status, record.bytes_scanned) == ("SUCCEEDED", 4096)
    assert reply["reconcile"]["recovered"] == [query_id]
    assert platform.state("pool#DML")["active"] == 0
    assert platform.state("tenant#alpha")["running"] == 0
    assert platform.state("tenant#alpha")["bytes_today"] == 4096


def test_reconcile_repairs_counter_drift_and_reports_it(platform: Platform) -> None:
    submit()
    submit()
    platform.ddb.put_item(
        TableName="state", Item={"pk": {"S": "tenant#beta"}, "running": {"N": "3"}, "queued": {"N": "7"}}
    )
    report = reconcile(platform.deps, Dispatcher(platform.deps))

    assert report.drift == {"tenant#beta.running": -3, "tenant#beta.queued": -7}
    assert platform.state("tenant#beta") == {"running": 0, "queued": 0}
    assert platform.state("tenant#alpha")["queued"] == 2
    assert platform.metrics.total("CounterDrift") == 10


def test_a_direct_invocation_runs_a_round(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    reply = dispatcher_handler.handler({"reconcile": True}, FakeContext())  # type: ignore[arg-type]

    assert reply["round"]["started"] == [query_id]
    assert reply["reconcile"]["drift"] == {}


def test_the_start_rate_bucket_bounds_starts_per_round(platform: Platform) -> None:
    platform.ddb.put_item(
        TableName="state",
        Item={
            "pk": {"S": "rate#start"},
            "tokens": {"N": "2"},
            "updated_at": {"N": str(platform.clock.now())},
        },
    )
    for n in range(4):
        submit(f"SELECT {n}")
    dispatch()

    assert platform.athena.start_calls == 2
    platform.clock.advance(0.15)  # 20/s: two more tokens (and a bit)
    dispatch()
    assert platform.athena.start_calls == 4


def test_permanent_error_class_is_what_the_fake_raises_for_bad_sql(platform: Platform) -> None:
    platform.athena.permanent_sql.add("bad")
    try:
        platform.athena.start("q" * 36, "SELECT bad", "fs-test-alpha", "default")
    except Permanent as exc:
        assert exc.code == "InvalidRequestException"
    else:  # pragma: no cover
        raise AssertionError("expected a permanent error")


def test_with_aging_a_long_wait_lets_low_priority_overtake_a_fresh_high_priority(platform: Platform) -> None:
    old_low = submit("SELECT 'old'", key="key-epsilon", priority=0)[1]["query_id"]
    platform.clock.advance(130)  # two aging steps: priority 0 competes as 2
    fresh_high = submit("SELECT 'new'", key="key-epsilon", priority=1)[1]["query_id"]
    dispatch()

    assert _status(platform, old_low) == "RUNNING"
    assert _status(platform, fresh_high) == "QUEUED"  # epsilon runs one at a time


def test_without_enough_wait_priority_still_wins_under_aging(platform: Platform) -> None:
    old_low = submit("SELECT 'old'", key="key-epsilon", priority=0)[1]["query_id"]
    platform.clock.advance(59)
    fresh_high = submit("SELECT 'new'", key="key-epsilon", priority=1)[1]["query_id"]
    dispatch()

    assert _status(platform, fresh_high) == "RUNNING"
    assert _status(platform, old_low) == "QUEUED"


def test_a_stale_claim_restarted_by_reconcile_alone_handles_a_quota_throttle(
    platform: Platform,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    query_id = submit()[1]["query_id"]
    monkeypatch.setattr(platform.ledger, "mark_running", lambda *_: (_ for _ in ()).throw(TimeoutError()))
    dispatch()
    monkeypatch.undo()
    platform.athena.script.append(QuotaThrottle("TooManyRequestsException", "full"))
    platform.clock.advance(31)
    reconcile(platform.deps, Dispatcher(platform.deps))

    assert _status(platform, query_id) == "QUEUED"
    assert platform.state("pool#DML")["active"] == 0


def test_a_wake_up_batch_missing_optional_sqs_fields_still_runs_a_round(platform: Platform) -> None:
    query_id = submit()[1]["query_id"]
    event = {"Records": [{"messageId": "m-1", "body": "{}", "eventSource": "aws:sqs"}]}
    reply = dispatcher_handler.handler(event, FakeContext())  # type: ignore[arg-type]

    assert reply == {"batchItemFailures": []}
    assert _status(platform, query_id) == "RUNNING"
