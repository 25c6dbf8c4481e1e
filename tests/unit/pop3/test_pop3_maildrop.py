"""The per-session maildrop: numbering, marks, unique ids, the size cache, the lock."""

from __future__ import annotations

import pytest

from rongmail.errors import NotFound, ValidationError
from rongmail.protocols.pop3.maildrop import (
    Item,
    Maildrop,
    MaildropLocks,
    WireSizes,
    parse_number,
)


def drop() -> Maildrop:
    items = [Item(n, uid, 100 + n, f"b{n}", 10 * n) for n, uid in ((1, 4), (2, 7), (3, 9))]
    return Maildrop(1, 1, 1, 1700000000, items)


def test_parse_number() -> None:
    assert parse_number("12") == 12
    assert parse_number("18446744073709551616") == 2**64
    for bad in ("", "-1", "+1", "1.0", "\uff11", "1" * 21):
        with pytest.raises(ValidationError):
            parse_number(bad)


def test_marks_and_stat() -> None:
    d = drop()
    assert d.stat() == (3, 60)
    d.get("2").deleted = True
    assert d.stat() == (2, 40)
    assert [i.number for i in d.live()] == [1, 3]
    assert d.deleted_ids() == [102]
    with pytest.raises(NotFound) as e:
        d.get("2")
    assert e.value.key == "pop3.err.deleted"
    with pytest.raises(NotFound):
        d.get("4")
    with pytest.raises(NotFound):
        d.get("0")
    d.reset()
    assert d.stat() == (3, 60) and d.deleted_ids() == []


def test_unique_ids() -> None:
    d = drop()
    ids = [d.unique_id(i) for i in d.live()]
    assert ids == ["1700000000.4", "1700000000.7", "1700000000.9"]
    assert all(0x21 <= ord(c) <= 0x7E for uid in ids for c in uid)


def test_wire_sizes_lru() -> None:
    cache = WireSizes(capacity=2)
    cache.put(1, "a", 1)
    cache.put(1, "b", 2)
    assert cache.get(1, "a") == 1  # a is now the most recent
    cache.put(2, "a", 3)
    assert cache.get(1, "b") is None
    assert cache.get(1, "a") == 1 and cache.get(2, "a") == 3


def test_locks() -> None:
    locks = MaildropLocks()
    a, b = object(), object()
    assert locks.acquire(7, a)
    assert locks.acquire(7, a)  # re-entrant for the holder
    assert not locks.acquire(7, b)
    locks.release(7, b)  # not the holder: no effect
    assert locks.held(7)
    locks.release(7, a)
    assert locks.acquire(7, b)
