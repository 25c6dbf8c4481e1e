"""A bounded map whose entries expire: the one LRU-with-TTL behind RongMail's small caches.

Used for DNS answers (``services/dns/cache.py``), SPF results (``services/mailauth/spf.py``),
verified credentials (``services/auth/credcache.py``),
known senders and vacation rows (``pipeline/``). Each user states its own freshness bound; this
class only guarantees the mechanics.

Invariants:

* :meth:`get` never returns a value more than its ``ttl`` seconds (of the injected monotonic
  ``clock``) after the :meth:`put` that stored it; an expired entry is dropped when met.
* At most ``size`` entries: storing one more evicts the least recently used (a :meth:`get` hit
  counts as a use).
* ``ttl <= 0`` or ``size <= 0``: nothing is stored (a cache that is turned off).
* Not thread-safe: each instance is used from one thread (the event loop's).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["ExpiringLru"]


class ExpiringLru(Generic[K, V]):
    def __init__(self, size: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """The fresh value under ``key`` (now the most recently used), or ``None``."""
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    def remaining(self, key: K) -> float | None:
        """Seconds the entry under ``key`` stays fresh, or ``None`` (not a use: no LRU move)."""
        item = self._data.get(key)
        if item is None:
            return None
        left = item[0] - self._clock()
        return left if left > 0 else None

    def put(self, key: K, value: V, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds (not at all when ``ttl <= 0``)."""
        if ttl <= 0 or self._size <= 0:
            return
        self._data[key] = (self._clock() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def put_until(self, key: K, value: V, expires: float) -> None:
        """Store ``value`` until the ``clock`` instant ``expires`` (for a value read before
        now: its freshness counts from the read, not from the store)."""
        self.put(key, value, expires - self._clock())

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def items(self) -> list[tuple[K, V]]:
        """A snapshot of every stored (key, value), expired or not, least recently used first."""
        return [(k, v) for k, (_, v) in self._data.items()]

    def clear(self) -> None:
        self._data.clear()
