from __future__ import annotations

from fairshare_tools.tooling.localplatform import trips_csv


def test_the_sample_table_is_deterministic() -> None:
    first = trips_csv(rows=50)
    assert first == trips_csv(rows=50)
    assert first.splitlines()[0] == b"trip_id,vendor,passengers,distance_km,fare"
    assert len(first.splitlines()) == 51
