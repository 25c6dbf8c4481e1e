"""The IMAP message cache (``protocols/imap/msgcache.py``): bounded by bytes as well as by
count, each thing kept once, and its answers byte-for-byte the ones rendered afresh."""

from __future__ import annotations

import json
from dataclasses import replace

from rongmail.core.models import Mailbox, MailboxEntry, MessageParts
from rongmail.protocols.imap.message import envelope_bytes
from rongmail.protocols.imap.msgcache import MessageCache, entry_cost


def _mb(id_: int = 1, uidvalidity: int = 7) -> Mailbox:
    return Mailbox(id_, 1, 0, "INBOX", "inbox", uidvalidity, 10, 5, True, 0)


def _entry(uid: int) -> MailboxEntry:
    return MailboxEntry(uid, 100 + uid, 0, frozenset(), 1, 10, 0)


def _parts(id_: int, env: dict[str, str | None], structure: str = "{}") -> MessageParts:
    return MessageParts(id_, 1, "b" * 64, 5, structure, json.dumps(env))


def test_entries_are_bounded_by_estimated_bytes() -> None:
    small = _parts(1, {"subject": "hi"})
    big = _parts(2, {"subject": "x" * 5000})
    budget = 3 * entry_cost(big)
    cache = MessageCache(max_entries=1000, max_bytes=budget)
    mb = _mb()
    for uid in range(1, 11):
        cache.put(mb, uid, replace(big, id=uid))
        assert cache.bytes <= budget
    assert len(cache) == 3  # by bytes, not by count
    assert [cache.get(mb, u, u) is not None for u in (7, 8, 9, 10)] == [False, True, True, True]
    # small entries: many fit in the same budget, the count bound still applies
    for uid in range(11, 200):
        cache.put(mb, uid, replace(small, id=uid))
    assert cache.bytes <= budget and len(cache) == budget // entry_cost(small)
    # the accounting follows replacements (a reused row id) and equals what is held
    cache.put(mb, 199, replace(big, id=5000))
    assert cache.get(mb, 199, 5000) is not None and cache.bytes <= budget
    held = [cache.get(mb, u, m) for u in range(1, 200) for m in (u, 5000)]
    assert cache.bytes == sum(sm.cost for sm in held if sm is not None)
    # one entry over the whole budget is still served (and is the next one dropped)
    tiny = MessageCache(max_bytes=10)
    sm = tiny.put(mb, 1, big)
    assert tiny.get(mb, 1, 2) is sm
    tiny.put(mb, 2, replace(big, id=3))
    assert len(tiny) == 1 and tiny.get(mb, 1, 2) is None


def test_ascii_envelope_is_rendered_once_for_both_modes() -> None:
    env = {"subject": "=?utf-8?b?5Lya6K6u?=", "from_": "Fred <fred@example.com>", "date": None}
    sm = MessageCache().put(_mb(), 1, _parts(1, env))
    seven = sm.envelope(utf8=False)
    assert seven == envelope_bytes(env, utf8=False) == envelope_bytes(env, utf8=True)
    assert sm.envelope(utf8=True) is seven and sm._envelope is None  # JSON dropped
    # raw UTF-8 header text: a literal without UTF-8, quoted with it (RFC 6855 §4)
    env8 = {"subject": "会议", "from_": "王伟 <wang@example.cn>"}
    sm8 = MessageCache().put(_mb(), 2, _parts(2, env8))
    utf8 = sm8.envelope(utf8=True)
    assert utf8 == envelope_bytes(env8, utf8=True)
    assert sm8.envelope(utf8=False) == envelope_bytes(env8, utf8=False) != utf8
    assert sm8.envelope(utf8=True) is utf8 and sm8.envelope(utf8=False) is sm8.envelope(utf8=False)


def test_kept_fetch_line_is_renumbered_exactly() -> None:
    sm = MessageCache().put(_mb(), 9, _parts(1, {"subject": "s"}))
    e, key = _entry(9), (False, ("FLAGS", "ENVELOPE"))
    items = b'FLAGS (\\Seen) ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL)'
    sm.keep_fetched(key, e, 3, b"* 3 FETCH (%b)\r\n" % items)
    for msn in (12, 3, 1000, 7):
        assert sm.fetched_line(key, e, msn) == b"* %d FETCH (%b)\r\n" % (msn, items)
    assert sm.fetched_line(key, _entry(9), 7) is None  # an equal but new entry


def test_whole_mailbox_answers_are_bounded_by_bytes() -> None:
    cache = MessageCache(max_range_lines=1000, max_range_bytes=1000)
    mb, key = _mb(), ("k",)
    uids = [1, 2, 3, 4]
    entries = [_entry(u) for u in uids]

    def lines(size: int) -> list[bytes]:
        return [b"x" * size for _ in uids]

    cache.keep_range(mb, key, uids, entries, lines(100))  # 400 bytes
    assert cache.range_lines(mb, key, uids, entries) is not None
    cache.keep_range(mb, key, uids, entries, lines(300))  # 1,200: not kept, the old one gone
    assert cache.range_lines(mb, key, uids, entries) is None
    other = _mb(2)
    cache.keep_range(mb, key, uids, entries, lines(100))
    cache.keep_range(other, key, uids, entries, lines(100))
    assert cache.range_lines(mb, key, uids, entries) is not None  # 800 bytes: both kept
    cache.keep_range(_mb(3), key, uids, entries, lines(100))  # 1,200: the least recent goes
    assert cache.range_lines(other, key, uids, entries) is None
    assert cache.range_lines(mb, key, uids, entries) is not None
    assert cache.range_lines(_mb(3), key, uids, entries) is not None
