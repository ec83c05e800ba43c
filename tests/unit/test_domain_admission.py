"""Properties of admission: I-2 (limits), I-5 (order within a tenant), I-6 (weighted fair share)."""

from __future__ import annotations

import dataclasses
from collections import Counter

from fairshare.domain import (
    PoolName,
    PoolState,
    QueuedQuery,
    Snapshot,
    TenantPolicy,
    TenantQueue,
    TenantState,
    plan_admissions,
)
from fairshare.domain.model import SHARE_POLICIES
from hypothesis import given, settings
from hypothesis import strategies as st


@st.composite
def snapshots(draw: st.DrawFn, ddl: bool = True, single_pool: bool = False) -> Snapshot:
    now = 10_000.0
    tenants = []
    for index in range(draw(st.integers(1, 8))):
        name = f"t{index}"
        budget = draw(st.sampled_from([None, 100, 1000]))
        policy = TenantPolicy(
            name=name,
            weight=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
            max_concurrency=draw(st.integers(1, 12)),
            daily_bytes_budget=budget,
            priority_levels=3,
            aging_seconds=draw(st.sampled_from([None, 30.0])),
            max_aging_boost=1,
        )
        queries = []
        for seq in range(draw(st.integers(0, 15))):
            pool: PoolName = "DDL" if ddl and not single_pool and draw(st.integers(0, 9)) == 0 else "DML"
            queries.append(
                QueuedQuery(
                    query_id=f"{name}-{seq}",
                    tenant=name,
                    priority=draw(st.integers(0, 2)),
                    seq=seq,
                    submitted_at=draw(st.floats(0, now, allow_nan=False)),
                    pool=pool,
                )
            )
        tenants.append(
            TenantState(
                policy=policy,
                running=draw(st.integers(0, policy.max_concurrency)),
                queue=TenantQueue(queries),
                bytes_today=draw(st.sampled_from([0, 500, 5000])),
            )
        )
    pools: dict[PoolName, PoolState] = {
        "DML": PoolState("DML", active=draw(st.integers(0, 30)), effective_limit=draw(st.integers(1, 40))),
        "DDL": PoolState("DDL", active=draw(st.integers(0, 5)), effective_limit=draw(st.integers(1, 5))),
    }
    return Snapshot(
        now=now,
        pools=pools,
        tenants=tenants,
        start_tokens=draw(st.integers(0, 100)),
        share=draw(st.sampled_from(SHARE_POLICIES)),
    )


@given(snapshots())
@settings(max_examples=300)
def test_never_over_pool_limits_tokens_or_caps(snapshot: Snapshot) -> None:
    admissions = plan_admissions(snapshot)
    per_pool = Counter(a.pool for a in admissions)
    for name, pool in snapshot.pools.items():
        assert pool.active + per_pool[name] <= max(pool.effective_limit, pool.active), name
    assert len(admissions) <= snapshot.start_tokens
    per_tenant = Counter(a.tenant for a in admissions)
    for tenant in snapshot.tenants:
        admitted = per_tenant[tenant.policy.name]
        assert tenant.running + admitted <= max(tenant.policy.max_concurrency, tenant.running)
        if tenant.held_by_budget:
            assert admitted == 0, f"{tenant.policy.name} is over budget but got {admitted} slots"
    assert len({a.query.query_id for a in admissions}) == len(admissions)
    assert all(a.pool == a.query.pool for a in admissions)


@given(snapshots())
@settings(max_examples=300)
def test_each_tenant_is_admitted_in_its_queue_order(snapshot: Snapshot) -> None:
    admissions = plan_admissions(snapshot)
    for tenant in snapshot.tenants:
        policy = tenant.policy
        mine = [a.query for a in admissions if a.tenant == policy.name]
        expected_prefix = list(
            tenant.queue.ordered(snapshot.now, policy.aging_seconds, policy.max_aging_boost)
        )
        assert mine == expected_prefix[: len(mine)], "I-5: admissions must be a prefix of the tenant's order"


@given(snapshots(single_pool=True))
@settings(max_examples=300)
def test_weighted_fair_no_tenant_left_behind_with_a_lower_ratio(snapshot: Snapshot) -> None:
    snapshot = dataclasses.replace(snapshot, share="weighted_fair")
    admissions = plan_admissions(snapshot)
    admitted = Counter(a.tenant for a in admissions)
    final = {t.policy.name: t.running + admitted[t.policy.name] for t in snapshot.tenants}
    still_eligible = [
        t
        for t in snapshot.tenants
        if not t.held_by_budget
        and final[t.policy.name] < t.policy.max_concurrency
        and len(t.queue) > admitted[t.policy.name]
    ]
    for winner in snapshot.tenants:
        name = winner.policy.name
        if admitted[name] == 0:
            continue
        ratio_before_last = (final[name] - 1) / winner.policy.weight
        for other in still_eligible:
            other_ratio = final[other.policy.name] / other.policy.weight
            assert ratio_before_last <= other_ratio + 1e-9, (
                f"I-6: {name} took a slot at running/weight={ratio_before_last:.3f} while "
                f"{other.policy.name} waited at {other_ratio:.3f}"
            )


def _tenant(name: str, weight: float, queued: int, running: int = 0, cap: int = 100) -> TenantState:
    policy = TenantPolicy(name=name, weight=weight, max_concurrency=cap)
    queue = TenantQueue(QueuedQuery(f"{name}-{i}", name, 1, i, float(i)) for i in range(queued))
    return TenantState(policy=policy, running=running, queue=queue)


def _pools(dml_free: int, ddl_free: int = 5) -> dict[PoolName, PoolState]:
    return {"DML": PoolState("DML", 0, dml_free), "DDL": PoolState("DDL", 0, ddl_free)}


def test_slots_split_by_weight() -> None:
    tenants = [_tenant("a", 3, 100), _tenant("b", 2, 100), _tenant("c", 1, 100)]
    admissions = plan_admissions(Snapshot(now=1000.0, pools=_pools(60), tenants=tenants, start_tokens=80))
    assert Counter(a.tenant for a in admissions) == {"a": 30, "b": 20, "c": 10}


def test_tie_goes_to_the_oldest_head() -> None:
    young = TenantState(TenantPolicy("young"), 0, TenantQueue([QueuedQuery("y", "young", 1, 1, 50.0)]))
    old = TenantState(TenantPolicy("old"), 0, TenantQueue([QueuedQuery("o", "old", 1, 1, 10.0)]))
    admissions = plan_admissions(Snapshot(now=100.0, pools=_pools(1), tenants=[young, old], start_tokens=5))
    assert [a.query.query_id for a in admissions] == ["o"]


def test_hard_cap_and_tokens_bound_the_round() -> None:
    tenants = [_tenant("capped", 10, 50, running=3, cap=5), _tenant("other", 1, 50)]
    admissions = plan_admissions(Snapshot(now=1000.0, pools=_pools(100), tenants=tenants, start_tokens=12))
    counts = Counter(a.tenant for a in admissions)
    assert counts["capped"] == 2
    assert sum(counts.values()) == 12


def test_a_head_waiting_for_a_full_pool_blocks_its_tenant_only() -> None:
    ddl_head = QueuedQuery("ddl", "a", 2, 1, 0.0, pool="DDL")
    dml_next = QueuedQuery("dml", "a", 1, 2, 1.0)
    blocked = TenantState(TenantPolicy("a", allow_ddl=True), 0, TenantQueue([ddl_head, dml_next]))
    snapshot = Snapshot(
        now=10.0, pools=_pools(10, ddl_free=0), tenants=[blocked, _tenant("b", 1, 3)], start_tokens=10
    )
    assert [a.query.query_id for a in plan_admissions(snapshot)] == ["b-0", "b-1", "b-2"]


def test_nothing_is_admitted_without_tokens_or_slots() -> None:
    tenants = [_tenant("a", 1, 5)]
    assert plan_admissions(Snapshot(now=1.0, pools=_pools(5), tenants=tenants, start_tokens=0)) == []
    assert plan_admissions(Snapshot(now=1.0, pools=_pools(0, 0), tenants=tenants, start_tokens=9)) == []


def test_budget_held_tenant_waits() -> None:
    policy = TenantPolicy("spender", daily_bytes_budget=1000, budget_action="hold")
    spender = TenantState(policy, 0, TenantQueue([QueuedQuery("s", "spender", 1, 1, 0.0)]), bytes_today=1000)
    snapshot = Snapshot(now=10.0, pools=_pools(10), tenants=[spender], start_tokens=10)
    assert plan_admissions(snapshot) == []
