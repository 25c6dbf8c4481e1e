"""Change fan-out (IMAP IDLE, JMAP push, webhooks) after commit.

:class:`Bus` is in-process: ``publish`` hands each batch of :class:`~rongmail.core.changes.Change`
to every subscriber of the account without blocking (a slow subscriber's queue is bounded; on
overflow it gets a single ``None`` meaning "resync from the store", never a silent loss).
Publishing happens only after the store committed, so a subscriber that reads the store sees the
change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from rongmail.core.changes import Change

QUEUE_MAX = 1000


class Subscription:
    def __init__(self, bus: Bus, account_id: int | None) -> None:
        self._bus = bus
        self.account_id = account_id
        self.queue: asyncio.Queue[list[Change] | None] = asyncio.Queue(QUEUE_MAX)
        self.overflowed = False

    def _offer(self, batch: list[Change]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def get(self) -> list[Change] | None:
        """Next batch, or ``None`` when changes were dropped and the reader must resync."""
        batch = await self.queue.get()
        if batch is None:
            self.overflowed = False
        return batch

    def __aiter__(self) -> AsyncIterator[list[Change] | None]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[list[Change] | None]:
        while True:
            yield await self.get()

    def close(self) -> None:
        self._bus._remove(self)


class Bus:
    def __init__(self) -> None:
        self._subs: dict[int | None, set[Subscription]] = {}
        self._listeners: list[Callable[[list[Change]], None]] = []

    def subscribe(self, account_id: int | None) -> Subscription:
        """Subscribe to one account's changes (``None``: every account, for workers)."""
        sub = Subscription(self, account_id)
        self._subs.setdefault(account_id, set()).add(sub)
        return sub

    @asynccontextmanager
    async def subscription(self, account_id: int | None) -> AsyncIterator[Subscription]:
        sub = self.subscribe(account_id)
        try:
            yield sub
        finally:
            sub.close()

    def add_listener(self, fn: Callable[[list[Change]], None]) -> None:
        """A synchronous callback for every batch (cross-node relays, metrics)."""
        self._listeners.append(fn)

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.account_id)
        if subs:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.account_id]

    def publish(self, changes: list[Change]) -> None:
        """Deliver committed changes. Must be called on the event loop thread."""
        if not changes:
            return
        by_account: dict[int, list[Change]] = {}
        for c in changes:
            by_account.setdefault(c.account_id, []).append(c)
        for account_id, batch in by_account.items():
            for sub in list(self._subs.get(account_id, ())):
                sub._offer(batch)
        for sub in list(self._subs.get(None, ())):
            sub._offer(changes)
        for fn in self._listeners:
            fn(changes)
