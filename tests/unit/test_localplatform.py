from __future__ import annotations

import pytest
from fairshare.tooling.localplatform import refill_latencies, trips_csv


def test_each_completion_is_paired_with_the_next_start() -> None:
    # slots freed at 10 and 11 are refilled at 10.5 and 12; the completion at 20 comes after the last start
    assert refill_latencies(starts=[0, 1, 10.5, 12], completions=[10, 11, 20]) == pytest.approx([0.5, 1.0])


def test_a_start_is_used_once() -> None:
    assert refill_latencies(starts=[0, 5], completions=[1, 2]) == pytest.approx([4.0])


def test_no_starts_means_no_refills() -> None:
    assert refill_latencies(starts=[], completions=[1.0]) == []


def test_the_sample_table_is_deterministic() -> None:
    first = trips_csv(rows=50)
    assert first == trips_csv(rows=50)
    assert first.splitlines()[0] == b"trip_id,vendor,passengers,distance_km,fare"
    assert len(first.splitlines()) == 51
