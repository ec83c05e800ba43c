"""Three tenants (weights 3:2:1) share a DML quota of 20 under a burst: never over it, shares by weight."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fairshare_tools.client import Client

from .conftest import hint, wait_all

PER_TENANT = 100
QUOTA = 20


def test_a_burst_of_300_stays_under_the_quota_and_shares_slots_by_weight(
    clients: dict[str, Client], emulator: Callable[..., Any], output_value: Callable[[str], Any]
) -> None:
    tenants = ["analytics", "marketing", "finance"]
    weights = {"analytics": 3, "marketing": 2, "finance": 1}
    samples: list[dict[str, Any]] = []
    stop = threading.Event()

    def sample() -> None:
        # Every 200 ms: Athena's active count (the emulator) and each tenant's running/queued (the API).
        while not stop.is_set():
            state = emulator("state")
            usage = {t: clients[t].usage() for t in tenants}
            samples.append({"active": state["active"]["DML"], "usage": usage})
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            submitted = {
                t: list(pool.map(lambda i, t=t: clients[t].submit(hint(4.0), database="default").query_id,
                                 range(PER_TENANT)))
                for t in tenants
            }  # fmt: skip
        finished = {t: wait_all(clients[t], submitted[t], timeout_s=420) for t in tenants}
    finally:
        stop.set()
        sampler.join(timeout=30)

    statuses = [s.status for per in finished.values() for s in per.values()]
    assert statuses.count("SUCCEEDED") == 3 * PER_TENANT, f"not all succeeded: {sorted(set(statuses))}"

    max_active = max(s["active"] for s in samples)
    assert max_active <= QUOTA, f"Athena saw {max_active} active queries against a quota of {QUOTA}"

    # Shares while every tenant still had work queued (each wanted more than its fair share).
    contended = [s for s in samples if all(s["usage"][t].queued > 0 for t in tenants)]
    assert len(contended) >= 10, f"only {len(contended)} samples with all three tenants backlogged"
    totals = {t: sum(s["usage"][t].running for s in contended) for t in tenants}
    grand = sum(totals.values())
    shares = {t: totals[t] / grand for t in tenants}
    for t in tenants:
        expected = weights[t] / sum(weights.values())
        assert abs(shares[t] - expected) <= 0.07, (
            f"{t}: share {shares[t]:.3f}, expected {expected:.3f}: {shares}"
        )
    print(f"\n[e2e] max active {max_active}/{QUOTA}, shares {({t: round(v, 3) for t, v in shares.items()})}, "
          f"{len(contended)} contended samples of {len(samples)}")  # fmt: skip
