"""FIFO numbers without a ledger round trip (`fairshare.services.submission.Sequencer`)."""

from __future__ import annotations

import random
import threading

from fairshare.domain.model import QueuedQuery
from fairshare.domain.queue import TenantQueue
from fairshare.ports import queue_key
from fairshare.services.submission import Sequencer
from hypothesis import given
from hypothesis import strategies as st


@given(st.lists(st.floats(min_value=1.6e9, max_value=2.0e9), min_size=1, max_size=50))
def test_numbers_strictly_increase_within_an_environment_whatever_the_clock_does(times: list[float]) -> None:
    sequencer = Sequencer(random.Random(1))
    issued = [sequencer.next(now) for now in times]  # the clock may stand still or go back
    assert issued == sorted(issued) and len(set(issued)) == len(issued)


def test_a_later_instant_gets_a_later_number_across_environments() -> None:
    first, second = Sequencer(random.Random(1)), Sequencer(random.Random(2))
    earlier = first.next(1_800_000_000.000001)
    later = second.next(1_800_000_000.000002)  # one microsecond later, another environment
    assert later > earlier


def test_numbers_fit_the_queue_key_and_sort_in_it_as_integers() -> None:
    sequencer = Sequencer(random.Random(3))
    numbers = [sequencer.next(2_000_000_000.0 + n / 1000) for n in range(5)]
    keys = [queue_key(1, n) for n in numbers]
    assert all(len(k) == len("8#") + 20 for k in keys)
    assert keys == sorted(keys)


def test_concurrent_submissions_in_one_environment_never_share_a_number() -> None:
    sequencer = Sequencer()
    issued: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(200):
            number = sequencer.next(1_800_000_000.0)
            with lock:
                issued.append(number)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(issued)) == 800


def test_two_environments_drawing_the_same_number_keep_the_queue_usable() -> None:
    same = [QueuedQuery(f"q{n}", "t", 1, 42, 0.0) for n in range(2)]
    queue = TenantQueue(same)  # equal numbers are two submissions of one instant: either order is FIFO
    assert len(queue) == 2
    assert {q.query_id for q in queue.ordered(0.0)} == {"q0", "q1"}
