"""A bounded TTL cache for DNS answers (positive and negative, RFC 2308 §5).

Invariants: an entry is never served after ``min(max(ttl, min_ttl), max_ttl)`` seconds of the
injected monotonic clock; the least recently used entry is evicted first when the cache is
full; temporary failures are never cached here (the resolver does not store them). The cache is
used from the event loop thread only, so it needs no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from rongmail.services.dns.types import Answer

CacheKey = tuple[str, str]


class TtlCache:
    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        min_ttl: int = 0,
        max_ttl: int = 86_400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._data: OrderedDict[CacheKey, tuple[float, Answer]] = OrderedDict()
        self._max = max_entries
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._clock = clock
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: CacheKey) -> Answer | None:
        item = self._data.get(key)
        if item is None:
            self.misses += 1
            return None
        expires, answer = item
        if expires <= self._clock():
            del self._data[key]
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return answer

    def put(self, key: CacheKey, answer: Answer) -> None:
        ttl = min(max(answer.ttl, self._min_ttl), self._max_ttl)
        if ttl <= 0 or self._max <= 0:
            return
        self._data[key] = (self._clock() + ttl, answer)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()
