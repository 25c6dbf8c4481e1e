"""Garbage-collector settings for a long-running serving process.

CPython's cyclic collector runs a young-generation pass every 700 container allocations and
a full pass over every tracked object now and then. A mail server allocates many short-lived
objects per message or command (parsed headers, tags, rows, futures) on top of a large heap
that lives as long as the process (modules, compiled patterns, spam models, caches), so the
defaults spend ~2–2.6% of the serve process's CPU in the collector (measured with
``gc.callbacks`` over the SMTP and IMAP benchmarks), most of it re-scanning that start-up heap.

:func:`settle` is called once the listeners are up: it collects what start-up left behind,
moves every surviving object to the permanent generation (``gc.freeze``: never scanned again,
still freed by reference counting) and raises the young-generation threshold, which brought
the collector to ~0.5% of CPU on the same benchmarks. Cyclic garbage made while serving is
still collected, a little later.

:func:`gc_seconds` is the time the calling thread has spent in the cyclic collector: a pass
runs in whichever thread's allocation triggered it, so code that times itself to decide where
it should run (``store/sqlite/meta.py``'s inline reads and writes) subtracts it, and a
collector pass that happened to start inside a 0.1 ms read does not make that read look like
a 5 ms one.

:func:`trim_forever` gives freed C heap back to the system. glibc's ``malloc`` keeps what a
burst of work freed (a 4 MB ``FETCH 1:*`` answer, a batch of rows, several threads' arenas)
for reuse and only shrinks its heap from the top, so a process's RSS stays at its high-water
mark: after 30,000 operations of the mixed IMAP load on a 10,000-message mailbox, 309 MB, of
which SQLite held 18 MB and ``malloc_trim(0)`` returned 125 MB (184 MB left;
``bench/imap_mixed.py``'s idle-connection figure starts from that RSS). Where the C library
has no ``malloc_trim`` (musl, macOS) nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: container allocations (net) between young-generation passes (CPython's default: 700)
YOUNG_THRESHOLD = 10_000
#: young passes per middle-generation pass, middle passes per full pass
MIDDLE_EVERY = 20
OLD_EVERY = 50


class _CollectorClock(threading.local):
    """Per thread: seconds spent in finished collector passes, and when the current one began."""

    spent = 0.0
    started = 0.0


_CLOCK = _CollectorClock()


def _on_collect(phase: str, info: dict[str, int]) -> None:
    """``gc.callbacks`` hook: called in the collecting thread at the start and stop of a pass."""
    if phase == "start":
        _CLOCK.started = time.perf_counter()
    elif _CLOCK.started:
        _CLOCK.spent += time.perf_counter() - _CLOCK.started
        _CLOCK.started = 0.0


if _on_collect not in gc.callbacks:
    gc.callbacks.append(_on_collect)


def gc_seconds() -> float:
    """Seconds the calling thread has spent in the cyclic collector since it started."""
    return _CLOCK.spent


def settle() -> None:
    """Collect start-up garbage, freeze the surviving heap, then collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_EVERY, OLD_EVERY)


#: seconds between two ``malloc_trim`` calls of a serving process (a call costs ~1 ms when
#: there is nothing to give back, ~14 ms after 300 MB were freed, in a worker thread)
TRIM_EVERY = 5.0


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)`` (free pages of every arena given back), or None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        fn = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return lambda: fn(0)


async def trim_forever(every: float = TRIM_EVERY) -> None:
    """Every ``every`` seconds, hand freed heap pages back to the system (in a thread: a trim
    walks every arena, and ctypes releases the GIL meanwhile)."""
    trim = _malloc_trim()
    if trim is None:
        log.debug("no malloc_trim in this C library: heap trimming off")
        return
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(trim)
        except Exception:  # noqa: BLE001 - housekeeping must never end the server
            log.exception("malloc_trim failed")
            return
