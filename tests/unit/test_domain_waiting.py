"""Why a queued query waits (`fairshare.domain.waiting`): one reason per waiting tenant, decided from
the round's snapshot and plan; and the dispatcher publishes it whether or not the round admits."""

from __future__ import annotations

from fairshare.domain import (
    PoolName,
    PoolState,
    QueuedQuery,
    Snapshot,
    TenantPolicy,
    TenantQueue,
    TenantState,
    plan_admissions,
    waiting,
)
from fairshare.domain.waiting import WAIT_REASONS
from hypothesis import given, settings

from tests.unit.test_domain_admission import snapshots

NOW = 1000.0


def _tenant(
    name: str, queued: int, running: int = 0, cap: int = 10, budget: int | None = None, spent: int = 0
) -> TenantState:
    policy = TenantPolicy(name=name, max_concurrency=cap, daily_bytes_budget=budget)
    queue = TenantQueue(QueuedQuery(f"{name}-{i}", name, 1, i, 100.0 + i) for i in range(queued))
    return TenantState(policy=policy, running=running, queue=queue, bytes_today=spent)


def _snapshot(
    tenants: list[TenantState], dml: tuple[int, int, int] = (0, 10, 10), tokens: int = 80
) -> Snapshot:
    active, limit, ceiling = dml
    pools: dict[PoolName, PoolState] = {
        "DML": PoolState("DML", active, limit, ceiling),
        "DDL": PoolState("DDL", 0, 5, 5),
    }
    return Snapshot(now=NOW, pools=pools, tenants=tenants, start_tokens=tokens)


def _reasons(snapshot: Snapshot, queued: dict[str, int] | None = None) -> dict[str, str]:
    plan = plan_admissions(snapshot)
    counts = queued or {t.policy.name: len(t.queue) for t in snapshot.tenants}
    return {w.tenant: w.reason for w in waiting(snapshot, plan, counts)}


def test_a_tenant_over_its_budget_waits_for_its_budget_even_with_free_slots() -> None:
    assert _reasons(_snapshot([_tenant("a", 3, budget=100, spent=100)])) == {"a": "budget_hold"}


def test_a_tenant_at_its_cap_waits_for_its_cap() -> None:
    assert _reasons(_snapshot([_tenant("a", 3, running=2, cap=2)])) == {"a": "tenant_cap"}


def test_a_tenant_that_reaches_its_cap_within_the_round_waits_for_its_cap() -> None:
    assert _reasons(_snapshot([_tenant("a", 5, running=0, cap=2)])) == {"a": "tenant_cap"}


def test_full_pools_at_the_ceiling_are_the_platforms_own_load() -> None:
    assert _reasons(_snapshot([_tenant("a", 3)], dml=(10, 10, 10))) == {"a": "pool_full"}


def test_full_pools_below_the_ceiling_are_a_throttle_back_off() -> None:
    assert _reasons(_snapshot([_tenant("a", 3)], dml=(4, 4, 10))) == {"a": "throttle_backoff"}


def test_spent_start_tokens_hold_the_rest() -> None:
    assert _reasons(_snapshot([_tenant("a", 5)], tokens=2)) == {"a": "start_rate"}


def test_the_last_slots_go_by_share_and_the_others_wait_for_a_full_pool() -> None:
    reasons = _reasons(_snapshot([_tenant("a", 5), _tenant("b", 5)], dml=(8, 10, 10)))
    assert reasons == {"a": "pool_full", "b": "pool_full"}


def test_a_tenant_whose_queue_the_plan_empties_waits_no_more() -> None:
    assert _reasons(_snapshot([_tenant("a", 3)])) == {}


def test_a_tenant_with_more_queued_than_the_round_read_still_waits() -> None:
    # All three heads it showed are admitted; its counter says two more wait, behind the full pool.
    assert _reasons(_snapshot([_tenant("a", 3)], dml=(7, 10, 10)), {"a": 5}) == {"a": "pool_full"}


def test_age_is_that_of_the_oldest_query_still_queued() -> None:
    snapshot = _snapshot([_tenant("a", 4)], dml=(8, 10, 10))
    [wait] = waiting(snapshot, plan_admissions(snapshot), {"a": 4})
    assert wait.oldest_submitted_at == 102.0  # a-0 and a-1 were admitted
    assert wait.age(NOW) == NOW - 102.0


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_every_tenant_with_work_left_after_the_plan_has_exactly_one_reason(snapshot: Snapshot) -> None:
    plan = plan_admissions(snapshot)
    counts = {t.policy.name: len(t.queue) for t in snapshot.tenants}
    admitted = {t.policy.name: 0 for t in snapshot.tenants}
    for admission in plan:
        admitted[admission.tenant] += 1
    waits = waiting(snapshot, plan, counts)
    assert sorted(w.tenant for w in waits) == sorted(n for n, c in counts.items() if c > admitted[n])
    assert all(w.reason in WAIT_REASONS for w in waits)
    # A complete plan leaves no tenant waiting for want of its turn: only a limit holds it.
    assert "fair_share" not in {w.reason for w in waits}, [(w.tenant, w.reason) for w in waits]
