"""Following the shared change log: changes committed by OTHER processes (or nodes) reach this
process's bus, so IMAP IDLE, JMAP push and the bus-driven workers see them.

Every write op appends its :class:`~rongmail.core.changes.Change` rows to ``change_log`` in the
same transaction (ARCHITECTURE.md "The mail model"), so the log is a complete, ordered record
of committed changes. :class:`ChangeFollower` tails it by row id (``fetch(after_id)`` returns
``(id, Change)`` pairs in id order; ``app.py`` wires it to ``store.sql.changelog``) and
publishes what it finds on a :class:`FollowedBus`.

Invariants:

* **At most once per process.** A change committed here is published by its action *and* read
  back by the follower; :class:`FollowedBus` drops whichever copy comes second (a change is the
  whole row, ``(account_id, modseq, type, action, object_id, mailbox_id, uid)``, unique because
  each write op bumps its account's ``modseq``). The memory is bounded: a change is forgotten
  ``window`` seconds after it was first seen (its twin comes within a poll or two of the
  commit), and at most ``remember`` are kept; a copy arriving after its twin was forgotten
  would be delivered twice, which subscribers tolerate (they re-read the store), never lost.
  (Without the window a busy node kept all 100,000: about 30 MB in every serving process.)
* **Per-account modseq order.** Subscribers rely on seeing an account's changes in commit
  order (an IMAP view appends only UIDs above its last one, RFC 9051 §2.3.1.1). A local commit
  is published at once while another process's earlier commit reaches the follower up to one
  poll later, so :class:`FollowedBus` holds a batch whose ``modseq`` is not the account's next
  one, pokes the follower (which then reads the missing rows, already committed), and
  releases in order. A gap nobody fills (a ``modseq`` bump that logged no rows) is skipped
  after ``hold`` seconds. The first batch seen for an account sets its starting point.
* **No loss across id gaps.** On PostgreSQL a sequence id is taken before commit, so a higher
  id can become visible first. An id missing below the highest one seen is waited for during
  ``gap_wait`` seconds (a rolled-back or deleted row never appears) before the follower moves
  its floor past it.
* **Starts at the end.** A new follower starts after the highest id at start (``start_id``):
  history is for ``/changes`` and QRESYNC, not for push.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from rongmail.bus import Bus
from rongmail.core.changes import Change

log = logging.getLogger("rongmail.bus.follower")

Fetch = Callable[[int], Awaitable[list[tuple[int, Change]]]]


class FollowedBus(Bus):
    """A :class:`~rongmail.bus.Bus` for followed change logs: each change at most once, and per
    account in ``modseq`` order (see module doc)."""

    def __init__(
        self,
        remember: int = 100_000,
        hold: float = 0.25,
        *,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        #: change -> when it was first seen (``clock``), oldest first
        self._seen: OrderedDict[Change, float] = OrderedDict()
        self._remember = remember
        self.window = window
        self._clock = clock
        self._sweep_timer: asyncio.TimerHandle | None = None
        self.hold = hold
        #: account -> the next modseq to deliver (unknown until the account is first seen)
        self._next: dict[int, int] = {}
        #: account -> modseq -> changes held back behind a gap
        self._pending: dict[int, dict[int, list[Change]]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        #: called when a gap is noticed (``ChangeFollower.poke``: read the log now)
        self.on_gap: Callable[[], None] | None = None

    def publish(self, changes: list[Change]) -> None:
        accounts: dict[int, None] = {}
        now = self._clock()
        for c in changes:
            if c in self._seen:
                continue
            self._seen[c] = now
            self._pending.setdefault(c.account_id, {}).setdefault(c.modseq, []).append(c)
            accounts[c.account_id] = None
        self._forget(now)
        out: list[Change] = []
        gap = False
        for account in accounts:
            out += self._ready(account)
            if account in self._pending:
                gap = True
                self._arm(account)
        super().publish(out)
        if gap and self.on_gap is not None:
            self.on_gap()

    def _forget(self, now: float) -> None:
        """Drop what is over ``remember`` or older than ``window``; while anything is left,
        a timer comes back when the oldest expires (a quiet node frees it too)."""
        seen = self._seen
        while len(seen) > self._remember:
            seen.popitem(last=False)
        horizon = now - self.window
        while seen and next(iter(seen.values())) <= horizon:
            seen.popitem(last=False)
        if seen and self._sweep_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): the next publish sweeps
                return
            delay = next(iter(seen.values())) + self.window - now
            self._sweep_timer = loop.call_later(max(delay, 0.0), self._sweep)

    def _sweep(self) -> None:
        self._sweep_timer = None
        self._forget(self._clock())

    def _ready(self, account: int) -> list[Change]:
        """Take the held changes of ``account`` that are now in order."""
        pending = self._pending.get(account)
        if not pending:
            return []
        nxt = self._next.get(account, min(pending))
        out: list[Change] = []
        for m in sorted(k for k in pending if k < nxt):  # after a skipped gap: late, not lost
            out += pending.pop(m)
        while nxt in pending:
            out += pending.pop(nxt)
            nxt += 1
        self._next[account] = nxt
        if not pending:
            del self._pending[account]
            timer = self._timers.pop(account, None)
            if timer is not None:
                timer.cancel()
        return out

    def _arm(self, account: int) -> None:
        if account in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): nothing can fill the gap
            self._skip(account)
            return
        self._timers[account] = loop.call_later(self.hold, self._expire, account)

    def _skip(self, account: int) -> None:
        pending = self._pending.get(account)
        if pending:
            # a modseq bump without change rows, or rows out of reach: go on without it
            self._next[account] = min(pending)
            super().publish(self._ready(account))

    def _expire(self, account: int) -> None:
        self._timers.pop(account, None)
        self._skip(account)
        if account in self._pending:
            self._arm(account)


class ChangeFollower:
    """Tails ``change_log`` by id and publishes new rows on ``bus`` (see module doc)."""

    def __init__(
        self,
        bus: FollowedBus,
        fetch: Fetch,
        start_id: int,
        *,
        interval: float = 0.05,
        gap_wait: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        bus.on_gap = self.poke
        self._fetch = fetch
        #: every id <= floor is handled (published, or given up as a gap)
        self.floor = start_id
        self._seen: set[int] = set()
        #: missing id -> when it was first noticed
        self._gaps: dict[int, float] = {}
        self.interval = interval
        self.gap_wait = gap_wait
        self._clock = clock
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Poll now instead of at the next interval."""
        self._wake.set()

    async def poll_once(self) -> int:
        """Read rows above the floor, publish the unseen ones; return how many were published."""
        rows = await self._fetch(self.floor)
        fresh = [(i, c) for i, c in rows if i not in self._seen]
        batch: list[Change] = []
        key: tuple[int, int] | None = None
        for i, c in fresh:
            self._seen.add(i)
            self._gaps.pop(i, None)
            if key is not None and (c.account_id, c.modseq) != key:
                self.bus.publish(batch)
                batch = []
            key = (c.account_id, c.modseq)
            batch.append(c)
        if batch:
            self.bus.publish(batch)
        self._advance()
        return len(fresh)

    def _advance(self) -> None:
        if not self._seen:
            return
        now = self._clock()
        top = max(self._seen)
        for i in range(self.floor + 1, top):
            if i not in self._seen and i not in self._gaps:
                self._gaps[i] = now
        for i, since in list(self._gaps.items()):
            if now - since >= self.gap_wait:
                del self._gaps[i]  # never committed (rolled back) or already deleted
        self.floor = min(self._gaps) - 1 if self._gaps else top
        self._seen = {i for i in self._seen if i > self.floor}

    async def run(self) -> None:
        """Poll until cancelled; a failing read is logged and retried at the next interval."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("change log follower: read failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
