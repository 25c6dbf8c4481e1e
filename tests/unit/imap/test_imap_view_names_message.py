"""Pure parts of the IMAP server: the selected-mailbox view, mailbox paths, FETCH data."""

from __future__ import annotations

import gc
from typing import Any

from rongmail.core.changes import Change
from rongmail.core.models import Mailbox, MailboxEntry
from rongmail.i18n import t
from rongmail.mime.parse import parse_message
from rongmail.protocols.imap.message import body_structure, envelope, find_part, section_bytes
from rongmail.protocols.imap.names import MAX_DEPTH, MailboxTree, pattern_regex
from rongmail.protocols.imap.proto.fetch import Section
from rongmail.protocols.imap.proto.sequence import SequenceSet
from rongmail.protocols.imap.view import Listing, SelectedView


def _mb(id_: int, name: str, parent: int = 0, role: str | None = None) -> Mailbox:
    return Mailbox(id_, 1, parent, name, role, 7, 10, 5, True, 0)


def _entry(uid: int, flags: int = 0, modseq: int = 1) -> MailboxEntry:
    return MailboxEntry(uid, 100 + uid, flags, frozenset(), modseq, 10, 0)


def test_view_numbering_and_resolve() -> None:
    listing = Listing.of(0, [_entry(u) for u in (2, 5, 9)])
    v = SelectedView(_mb(1, "INBOX", role="inbox"), listing, readonly=False)
    assert v.exists == 3 and v.msn(5) == 2 and v.msn(6) is None
    assert v.resolve(SequenceSet.parse("2:*"), uid=False) == [5, 9]
    assert v.resolve(SequenceSet.parse("4:*"), uid=True) == [5, 9]
    assert v.resolve(SequenceSet.parse("100:*"), uid=True) == [9]  # RFC 9051 §6.4.9
    assert v.resolve(SequenceSet(saved=True), uid=True, saved=[5, 7]) == [5]
    assert str(v.missing(SequenceSet.parse("1:4294967295"))) == "1,3:4,6:8"


def test_view_expunge_order_and_changes() -> None:
    listing = Listing.of(0, [_entry(u) for u in (1, 2, 3, 4)])
    v = SelectedView(_mb(1, "INBOX"), listing, readonly=False)
    v.note([Change(1, 6, "MailboxMessage", "destroyed", 102, 1, 2)])
    assert v.dirty and v.pending_expunges == {2}
    assert v.expunge([2, 4]) == [4, 2]  # highest first: each number valid when sent
    new, changed = v.apply_entries([_entry(3, flags=1, modseq=7), _entry(6, modseq=7)])
    assert new == [6] and changed == [3] and v.uids == [1, 3, 6] and v.synced_modseq == 7
    assert listing.uids == [1, 2, 3, 4] and listing.entries[3].flags == 0  # shared, untouched


def test_tree_paths_and_patterns() -> None:
    tree = MailboxTree([
        _mb(1, "Inbox", role="inbox"), _mb(2, "发票"), _mb(3, "2024", parent=2),
        _mb(4, "sub", parent=1),
    ])
    assert tree.path(3) == "发票/2024" and tree.path(4) == "INBOX/sub"
    assert tree.resolve("inbox").id == 1 and tree.get("Inbox/sub") is not None
    assert tree.split("发票/2025") == (2, "2025")
    assert [n.path for n in tree.match("", "%")] == ["INBOX", "发票"]
    assert [n.path for n in tree.match("发票/", "*")] == ["发票/2024"]
    assert pattern_regex("inbox*").fullmatch("INBOX/sub")


def test_tree_paths_of_deep_and_looping_parents_leave_no_cycle() -> None:
    """A chain deeper than ``MAX_DEPTH`` is cut there, a loop of parents ends, a missing
    parent makes a top level; building the tree makes no cyclic garbage (it runs on every
    SELECT and LIST; a recursive closure made a cycle per call)."""
    # deepest first: one walk from d80 upwards meets no known path and is cut
    deep = [_mb(k, f"d{k}", parent=k - 1 if k > 1 else 0) for k in range(80, 0, -1)]
    loop = [_mb(101, "a", parent=102), _mb(102, "b", parent=101)]
    orphan = [_mb(200, "o", parent=999)]
    gc.collect()
    gc.disable()
    try:
        tree = MailboxTree(deep + loop + orphan)
        assert tree.path(1) == "d1" and tree.path(3) == "d1/d2/d3"
        assert tree.path(80).count("/") == MAX_DEPTH + 1  # 66 names: the cut
        assert tree.path(80).startswith("d15/d16/") and tree.path(80).endswith("/d79/d80")
        assert tree.path(101).endswith("b/a") and tree.path(200) == "o"
        del tree
        assert gc.collect() == 0, "building a MailboxTree left cyclic garbage"
    finally:
        gc.enable()


RAW = (
    b"From: Fred <fred@example.com>\r\nTo: a@b.example, C <c@d.example>\r\nSubject: s\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nX-A: 1\r\n\r\nbody\r\n"
    b"--XX--\r\n"
)


def test_sections_rfc9051() -> None:
    p = parse_message(RAW)
    root, hs = p.body, p.header_size
    assert section_bytes(RAW, root, hs, Section()) == RAW
    assert section_bytes(RAW, root, hs, Section((), "HEADER")) == RAW[:hs]
    assert section_bytes(RAW, root, hs, Section((1,))) == b"hello"
    assert section_bytes(RAW, root, hs, Section((1,), "MIME")) == b"Content-Type: text/plain\r\n\r\n"
    assert section_bytes(RAW, root, hs, Section((2,), "HEADER")) == b"Subject: inner\r\nX-A: 1\r\n\r\n"
    assert section_bytes(RAW, root, hs, Section((2,), "TEXT")) == b"body"
    assert section_bytes(RAW, root, hs, Section((2, 1))) == b"body"
    assert section_bytes(RAW, root, hs, Section((2,), "HEADER.FIELDS", ("X-A",))) == b"X-A: 1\r\n\r\n"
    assert section_bytes(RAW, root, hs, Section((), "HEADER.FIELDS.NOT", ("TO", "FROM", "CONTENT-TYPE"))) == b"Subject: s\r\n\r\n"
    assert section_bytes(RAW, root, hs, Section((7,))) is None
    assert find_part(root, (1, 1)) is None


def test_envelope_and_bodystructure() -> None:
    p = parse_message(RAW)
    env = envelope(p.envelope.to_json())
    assert env[2] == [["Fred", None, "fred", "example.com"]]
    assert env[3] == env[2] and env[4] == env[2]  # sender/reply-to default to from
    assert env[5] == [[None, None, "a", "b.example"], ["C", None, "c", "d.example"]]
    bs = body_structure(p.body)
    assert bs[0][:2] == ["TEXT", "PLAIN"] and bs[1][:2] == ["MESSAGE", "RFC822"]
    assert bs[2] == "MIXED"
    assert body_structure(p.body, extensible=False)[-1] == "MIXED"


class _FakeReader:
    def __init__(self) -> None:
        self.full = 0
        self.targeted = 0
        self.entries = [_entry(1, modseq=3), _entry(2, modseq=4), _entry(3, modseq=5)]
        self.log: list[Change] = []

    async def mailbox_entries(self, mailbox_id: int, *, changed_since: int | None = None):  # type: ignore[no-untyped-def]
        if changed_since is None:
            self.full += 1
            return list(self.entries)
        return [e for e in self.entries if e.modseq > changed_since]

    async def mailbox_entries_of(self, mailbox_id: int, uids=(), message_ids=()):  # type: ignore[no-untyped-def]
        self.targeted += 1
        return [e for e in self.entries if e.uid in uids or e.message_id in message_ids]

    async def changes_since(self, account_id: int, modseq: int, limit: int = 10000):  # type: ignore[no-untyped-def]
        return [c for c in self.log if c.modseq > modseq]

    async def oldest_change(self, account_id: int) -> int:
        return 1


async def test_listing_cache_incremental() -> None:
    from dataclasses import replace

    from rongmail.protocols.imap.view import ListingCache

    reader = _FakeReader()
    cache = ListingCache()
    mb = replace(_mb(1, "INBOX"), highestmodseq=5)
    first = await cache.listing(reader, mb)  # type: ignore[arg-type]
    assert first.uids == [1, 2, 3] and reader.full == 1
    assert await cache.listing(reader, mb) is first  # type: ignore[arg-type]  # no store read
    # uid 2 expunged, uid 3 flagged, uid 4 appended at modseq 6
    reader.entries = [_entry(1, modseq=3), _entry(3, flags=4, modseq=6), _entry(4, modseq=6)]
    reader.log = [Change(1, 6, "MailboxMessage", "destroyed", 102, 1, 2),
                  Change(1, 6, "MailboxMessage", "updated", 103, 1, 3),
                  Change(1, 6, "MailboxMessage", "created", 104, 1, 4)]
    now = await cache.listing(reader, replace(mb, highestmodseq=6))  # type: ignore[arg-type]
    assert [(u, now.entries[u].flags) for u in now.uids] == [(1, 0), (3, 4), (4, 0)]
    assert reader.full == 1 and first.uids == [1, 2, 3]


async def test_listing_delta_keeps_or_extends_the_uid_list() -> None:
    """A flag-only delta shares the previous UID list, a delivery appends to a copy, an
    expunge builds a new ordered list; earlier listings (held by views) never change."""
    from dataclasses import replace

    from rongmail.protocols.imap.view import ListingCache

    reader = _FakeReader()
    cache = ListingCache()
    mb = replace(_mb(1, "INBOX"), highestmodseq=5)
    first = await cache.listing(reader, mb)  # type: ignore[arg-type]
    reader.entries = [_entry(1, modseq=3), _entry(2, flags=4, modseq=6), _entry(3, modseq=5)]
    reader.log = [Change(1, 6, "MailboxMessage", "updated", 102, 1, 2)]
    flagged = await cache.listing(reader, replace(mb, highestmodseq=6))  # type: ignore[arg-type]
    assert flagged.uids is first.uids and flagged.entries[2].flags == 4
    assert first.entries[2].flags == 0
    reader.entries.append(_entry(5, modseq=7))
    reader.log.append(Change(1, 7, "MailboxMessage", "created", 105, 1, 5))
    grown = await cache.listing(reader, replace(mb, highestmodseq=7))  # type: ignore[arg-type]
    assert grown.uids == [1, 2, 3, 5] and first.uids == [1, 2, 3]
    del reader.entries[0]
    reader.log.append(Change(1, 8, "MailboxMessage", "destroyed", 101, 1, 1))
    shrunk = await cache.listing(reader, replace(mb, highestmodseq=8))  # type: ignore[arg-type]
    assert shrunk.uids == [2, 3, 5] and set(shrunk.entries) == {2, 3, 5}
    assert grown.uids == [1, 2, 3, 5] and reader.full == 1


def test_touched_records_only_what_changed() -> None:
    from rongmail.protocols.imap.view import Touched

    t = Touched()
    gone = t.add(1, [
        Change(1, 7, "Email", "updated", 103),
        Change(1, 7, "MailboxMessage", "updated", 103, 1, 3),  # flag change here
        Change(1, 7, "Email", "updated", 109),
        Change(1, 7, "MailboxMessage", "updated", 109, 2, 40),  # flag change elsewhere only
        Change(1, 7, "Email", "updated", 104),  # copied elsewhere: may be here too
        Change(1, 7, "MailboxMessage", "created", 110, 1, 9),  # new here
        Change(1, 7, "MailboxMessage", "destroyed", 102, 1, 2),
        Change(1, 7, "Mailbox", "updated", 1),
    ])
    assert gone == [2] and t.uids == {3: 7, 9: 7} and t.message_ids == {104}
    assert not t.rescan and t.floor == 7
    t.add(1, [Change(1, 8, "MailboxMessage", "destroyed", 103, 1, 3)])
    assert 3 not in t.uids  # UIDs are never reused: no re-read of a removed one
    t.add(1, [Change(1, 9, "Thread", "updated", 5, 1)])  # not attributable to a UID
    assert t.rescan


async def test_fresh_entries_are_read_once_for_all_sessions() -> None:
    from rongmail.protocols.imap.view import ListingCache, Touched

    reader = _FakeReader()
    cache = ListingCache()
    mb = _mb(1, "INBOX")
    reader.entries = [_entry(1, modseq=3), _entry(2, flags=1, modseq=8), _entry(3, modseq=5)]
    views = []
    for _ in range(3):  # three sessions on one mailbox hear the same flag change
        v = SelectedView(mb, Listing.of(5, [_entry(u) for u in (1, 2, 3)]), readonly=False)
        v.note([Change(1, 8, "Email", "updated", 102),
                Change(1, 8, "MailboxMessage", "updated", 102, 1, 2)])
        assert v.dirty
        views.append(v)
    for v in views:
        entries = await cache.fresh(reader, mb, v.take_touched())  # type: ignore[arg-type]
        assert v.apply_entries(entries) == ([], [2])
    assert reader.targeted == 1 and reader.full == 0
    # a newer change is not served an older cached entry
    reader.entries[1] = _entry(2, flags=0, modseq=9)
    t = Touched(uids={2: 9})
    assert (await cache.fresh(reader, mb, t))[0].flags == 0  # type: ignore[arg-type]
    assert reader.targeted == 2
    # STORE's own result is remembered: its bus echo costs no read
    cache.remember(mb, _entry(3, flags=2, modseq=10))
    assert (await cache.fresh(reader, mb, Touched(uids={3: 10})))[0].flags == 2  # type: ignore[arg-type]
    assert reader.targeted == 2
    # a mailbox row id reused (another UIDVALIDITY) never gets the old mailbox's entries
    from dataclasses import replace

    await cache.fresh(reader, replace(mb, uidvalidity=99), Touched(uids={3: 1}))  # type: ignore[arg-type]
    assert reader.targeted == 3


def test_message_cache_keys_and_rendered_envelope() -> None:
    from dataclasses import replace

    from rongmail.core.models import Message
    from rongmail.protocols.imap.msgcache import MessageCache
    from rongmail.protocols.imap.proto import response as r

    env = '{"subject": "s", "from_": "Fred <fred@example.com>"}'
    m = Message(100, 1, 1, "blob-a", 10, 0, None, 0, frozenset(), 1, 1, None, (), (), "s", (),
                (), (), (), (), (), "", False, 5, "{}", env)
    cache = MessageCache(max_entries=2)
    mb = _mb(1, "INBOX")
    sm = cache.put(mb, 7, m)
    assert cache.get(mb, 7, 100) is sm
    assert cache.get(mb, 7, 101) is None  # a reused row id never serves another message
    assert cache.get(replace(mb, uidvalidity=8), 7, 100) is None  # new UIDVALIDITY
    out = sm.envelope(utf8=False)
    assert isinstance(out, r.Rendered) and sm.envelope(utf8=False) is out
    assert out == r.render(envelope({"subject": "s", "from_": "Fred <fred@example.com>"}))
    assert r.fetch(1, [("ENVELOPE", out)]) == b"* 1 FETCH (ENVELOPE " + bytes(out) + b")\r\n"
    cache.put(mb, 8, replace(m, id=101))
    cache.put(mb, 9, replace(m, id=102))
    assert len(cache) == 2 and cache.get(mb, 7, 100) is None  # least recently used dropped
    # the kept FETCH line: only for the same entry object and plan key; renumbered on demand
    e, key = _entry(9), (False, ("FLAGS", "ENVELOPE"))
    assert sm.fetched_line(key, e, 3) is None
    sm.keep_fetched(key, e, 3, b"* 3 FETCH (FLAGS () ENVELOPE NIL)\r\n")
    assert sm.fetched_line((False, ("FLAGS", "ENVELOPE")), e, 3) == (
        b"* 3 FETCH (FLAGS () ENVELOPE NIL)\r\n")
    assert sm.fetched_line(key, e, 2) == b"* 2 FETCH (FLAGS () ENVELOPE NIL)\r\n"
    assert sm.fetched_line(key, _entry(9), 2) is None  # an equal but new entry: re-render
    assert sm.fetched_line((True, ("FLAGS", "ENVELOPE")), e, 2) is None  # another plan


def test_status_lines_are_cached_per_language() -> None:
    """The cached tagged/untagged status lines are the bytes ``response`` renders, in the
    session's language (English until UTF-8 is enabled), for cached and uncached values."""
    from types import SimpleNamespace

    from rongmail.protocols.imap.proto import response as r
    from rongmail.protocols.imap.session import Session

    s: Any = Session.__new__(Session)
    s.options = SimpleNamespace(locale="zh-CN")
    s.enabled = set()
    s.out = []
    s.tagged("a1", "OK", "imap.ok.done", code="READ-WRITE", verb="SELECT")
    s.untagged_status("OK", "imap.ok.uidnext", code="UIDNEXT 7")
    s.tagged("a2", "NO", "imap.no.nonexistent", code="NONEXISTENT", name=["unhashable"])
    s.tagged("a4", "NO", "imap.no.nonexistent", code="NONEXISTENT", name="x" * 500)
    s.enabled.add("UTF8=ACCEPT")
    s.tagged("a3", "OK", "imap.ok.done", verb="SELECT")
    assert s.out == [
        r.tagged("a1", "OK", t("imap.ok.done", "en", verb="SELECT"), code="READ-WRITE"),
        r.untagged_status("OK", t("imap.ok.uidnext", "en"), code="UIDNEXT 7"),
        r.tagged("a2", "NO", t("imap.no.nonexistent", "en", name=["unhashable"]),
                 code="NONEXISTENT"),
        r.tagged("a4", "NO", t("imap.no.nonexistent", "en", name="x" * 500), code="NONEXISTENT"),
        r.tagged("a3", "OK", t("imap.ok.done", "zh-CN", verb="SELECT"), utf8=True),
    ]
