"""``core.heap.gc_seconds``: each thread's own time in the cyclic collector."""

from __future__ import annotations

import gc
import threading

from rongmail.core import heap


def test_a_pass_counts_for_the_thread_that_ran_it_only() -> None:
    live = [[] for _ in range(200_000)]  # something for the collector to walk
    before = heap.gc_seconds()
    gc.collect()
    mine = heap.gc_seconds() - before
    assert mine > 0
    others: list[float] = []

    def collect_elsewhere() -> None:
        start = heap.gc_seconds()
        gc.collect()
        others.append(heap.gc_seconds() - start)

    now = heap.gc_seconds()
    t = threading.Thread(target=collect_elsewhere)
    t.start()
    t.join(10)
    assert others and others[0] > 0
    assert heap.gc_seconds() == now, "another thread's pass is not this thread's time"
    assert live
