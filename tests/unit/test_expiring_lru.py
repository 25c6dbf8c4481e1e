"""core.expiring.ExpiringLru: expiry by the injected clock, LRU eviction, turned-off caches."""

from __future__ import annotations

from rongmail.core.expiring import ExpiringLru


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entry_expires_after_its_ttl() -> None:
    clock = Clock()
    c: ExpiringLru[str, int] = ExpiringLru(10, clock=clock)
    c.put("a", 1, 5.0)
    clock.now += 4.9
    assert c.get("a") == 1 and c.remaining("a") is not None
    clock.now += 0.1
    assert c.get("a") is None and c.remaining("a") is None and len(c) == 0


def test_put_until_counts_from_the_given_instant() -> None:
    clock = Clock()
    c: ExpiringLru[str, int] = ExpiringLru(10, clock=clock)
    c.put_until("read earlier", 1, clock.now + 2.0)
    clock.now += 2.0
    assert c.get("read earlier") is None
    c.put_until("already stale", 2, clock.now - 1.0)
    assert len(c) == 0


def test_least_recently_used_goes_first() -> None:
    c: ExpiringLru[str, int] = ExpiringLru(2, clock=Clock())
    c.put("a", 1, 60)
    c.put("b", 2, 60)
    assert c.get("a") == 1  # a is now the most recently used
    c.put("c", 3, 60)
    assert c.get("b") is None and c.get("a") == 1 and c.get("c") == 3


def test_turned_off_stores_nothing_and_pop_forgets() -> None:
    off: ExpiringLru[str, int] = ExpiringLru(0, clock=Clock())
    off.put("a", 1, 60)
    assert off.get("a") is None
    c: ExpiringLru[str, int] = ExpiringLru(5, clock=Clock())
    c.put("a", 1, 0)
    assert c.get("a") is None
    c.put("b", 2, 60)
    c.pop("b")
    c.pop("missing")
    assert c.get("b") is None
