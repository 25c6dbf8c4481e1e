"""A bounded TTL cache for DNS answers (positive and negative, RFC 2308 §5).

Invariants: an entry is never served after ``min(max(ttl, min_ttl), max_ttl)`` seconds of the
injected monotonic clock; the least recently used entry is evicted first when the cache is
full; temporary failures are never cached here (the resolver does not store them). The cache is
used from the event loop thread only, so it needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rongmail.core.expiring import ExpiringLru
from rongmail.services.dns.types import Answer

CacheKey = tuple[str, str]


class TtlCache:
    """DNS answers per (name, type), each fresh for its TTL clamped to ``[min_ttl, max_ttl]``
    (an :class:`~rongmail.core.expiring.ExpiringLru`), with hit and miss counters."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        min_ttl: int = 0,
        max_ttl: int = 86_400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._data: ExpiringLru[CacheKey, Answer] = ExpiringLru(max_entries, clock=clock)
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: CacheKey) -> Answer | None:
        answer = self._data.get(key)
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def remaining(self, key: CacheKey) -> float | None:
        """Seconds the entry under ``key`` stays fresh, or None when there is none (no hit
        is counted: this answers a question about an answer already served)."""
        return self._data.remaining(key)

    def put(self, key: CacheKey, answer: Answer) -> None:
        self._data.put(key, answer, min(max(answer.ttl, self._min_ttl), self._max_ttl))

    def clear(self) -> None:
        self._data.clear()
