"""Low-priority turns on an event loop: long work steps aside while short work is ready.

Role: one event loop serves every session of a process, in the order their work became
ready. A long command (a whole-mailbox ``FETCH``, a login with its credential check) that
simply yields with ``asyncio.sleep(0)`` between its steps comes back in the very next loop
iteration, ahead of the short commands whose bytes arrived meanwhile (their reader callbacks
run after it, and their tasks one iteration later still), so every short command of the other
sessions waits for one or two of its steps. :func:`background_turn` parks the caller until an
iteration ends with nothing else ready, or until ``max_wait`` passed, whichever is first: the
loop's short work (and the selector poll that finds more of it) runs first, the long work takes
the loop's idle moments, and ``max_wait`` bounds how long a step can be held back when the
loop is never idle. :func:`share_interpreter` bounds the loop's other wait: for the
interpreter lock, when a helper thread of the process took it.

Invariants:

* Waiters are released in the order they arrived, one per loop iteration; a cancelled waiter
  is dropped without being released.
* At most one check callback per loop is scheduled at a time, and none while nobody waits.
* Only CPython's pure-Python event loop exposes its ready queue (``_ready``); on any other
  loop :func:`background_turn` degrades to releasing one waiter per iteration, which is
  ``asyncio.sleep(0)`` with first-come order.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections import deque

__all__ = [
    "DEFAULT_BUDGET", "DEFAULT_MAX_WAIT", "DEFAULT_SLICE", "LongWork", "background_turn",
    "share_interpreter",
]

#: how long (seconds) one step of long work may be held back on a loop that is never idle
DEFAULT_MAX_WAIT = 0.025
#: how long (seconds) one long command may be held back in all (:class:`LongWork`)
DEFAULT_BUDGET = 0.2
#: how long (seconds) a long command past its budget keeps the loop between plain turns
DEFAULT_SLICE = 0.01


class _Gate:
    """The waiters of one event loop and its single check callback."""

    __slots__ = ("loop", "ready", "waiters", "scheduled", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready: deque[object] | None = getattr(loop, "_ready", None)
        self.waiters: deque[tuple[float, asyncio.Future[None]]] = deque()
        self.scheduled = False

    def wait(self, max_wait: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self.loop.create_future()
        self.waiters.append((self.loop.time() + max_wait, fut))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._check)
        return fut

    def _check(self) -> None:
        """Run once per loop iteration while someone waits: release the oldest waiter when
        nothing else is ready (the loop would go idle next) or when its time is up."""
        waiters = self.waiters
        while waiters and waiters[0][1].done():  # cancelled while waiting
            waiters.popleft()
        if not waiters:
            self.scheduled = False
            return
        deadline, fut = waiters[0]
        ready = self.ready
        if ready is None or not ready or self.loop.time() >= deadline:
            waiters.popleft()
            fut.set_result(None)
        if waiters:
            self.loop.call_soon(self._check)
        else:
            self.scheduled = False


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = (
    weakref.WeakKeyDictionary())


async def background_turn(max_wait: float = DEFAULT_MAX_WAIT) -> None:
    """Wait until the running loop has nothing else ready, or ``max_wait`` seconds at most;
    long work calls this between its steps instead of ``asyncio.sleep(0)``."""
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None:
        gate = _GATES[loop] = _Gate(loop)
    await gate.wait(max_wait)


class LongWork:
    """The turns of one long command: background turns until it has been held back
    ``budget`` seconds in all; after that it keeps the loop for up to ``slice_`` seconds at a
    time and then takes a plain turn (``asyncio.sleep(0)``). On a loop that is never idle a
    long command's latency so grows by at most ``budget`` plus one round of the other work per
    slice, not per step (a cold ``FETCH 1:*`` of 10,000 messages renders in some 160 steps
    of 64 lines). ``hurry`` ends the background turns once another session waits for the
    result. The budget trades the short commands' latency against the long ones'
    (``bench/README.md``, session 9: budgets from 0 to 0.5 s measured)."""

    __slots__ = ("left", "max_wait", "slice", "_since")

    def __init__(self, budget: float = DEFAULT_BUDGET, max_wait: float = DEFAULT_MAX_WAIT,
                 slice_: float = DEFAULT_SLICE) -> None:
        self.left = budget
        self.max_wait = max_wait
        self.slice = slice_
        self._since: float | None = None  # when the command last got the loop back

    def hurry(self) -> None:
        """Others wait for this work now (it is no longer background work): no more
        background turns, only the slices."""
        self.left = 0.0

    async def turn(self) -> None:
        """Let other work run before the next step (or go on, within a slice)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.left <= 0:
            if self._since is not None and now - self._since < self.slice:
                return
            await asyncio.sleep(0)
        else:
            await background_turn(min(self.max_wait, self.left))
            self.left -= loop.time() - now
        self._since = loop.time()


def share_interpreter(interval: float) -> None:
    """Let a thread hold the interpreter lock at most ``interval`` seconds while another waits.

    The event loop shares CPython's lock with the helper threads of its process (the SQLite
    reader pool and writer, ``asyncio.to_thread`` work). It lets the lock go for every
    system call and every SQLite statement; a helper that is waiting then takes it and keeps
    it until it blocks or the switch interval has passed, and only then does the loop go on.
    With CPython's default of 5 ms one such hand-over costs the loop, and every short command
    queued on it, up to 5 ms; a shorter interval bounds that wait, for a few more lock
    hand-overs between helpers that run Python side by side. Set once per serving process
    (``[server] switch_interval``); it applies to every thread of the process.
    """
    sys.setswitchinterval(interval)
