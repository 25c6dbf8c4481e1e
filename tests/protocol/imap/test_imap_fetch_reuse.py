"""FETCH reuses rendered item lists (commands/fetch.py, ``StaticMessage.fetched``) only while
the view entry is the same: flag changes by this or another session, UID FETCH and CONDSTORE
always show up in the next ``FETCH 1:* (FLAGS ENVELOPE)``."""

from __future__ import annotations

import imaplib
import re

from imap_helpers import PASSWORD, USER, ImapEnv, mail


def _login(env: ImapEnv) -> imaplib.IMAP4:
    c = imaplib.IMAP4(env.host, env.port, timeout=10)
    c.login(USER, PASSWORD)
    c.select("INBOX")
    return c


def _flags(c: imaplib.IMAP4, cmd: str = "FETCH", att: str = "(FLAGS ENVELOPE)"
           ) -> dict[int, str]:
    typ, data = c.uid("FETCH", "1:*", att) if cmd == "UID" else c.fetch("1:*", att)
    assert typ == "OK", data
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not line:
            continue
        text = line.decode()
        m = re.match(r"(\d+) \(.*FLAGS \(([^)]*)\)", text)
        if m and "ENVELOPE (" in text:  # not the unsolicited FETCH of a STORE or NOOP
            out[int(m.group(1))] = m.group(2)
    return out


def _spy_range_hits(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Record, for each kept whole-mailbox answer found, how many of its lines were stale."""
    from rongmail.protocols.imap.msgcache import MessageCache

    hits: list[int] = []
    real = MessageCache.range_lines

    def spy(self, *a):  # type: ignore[no-untyped-def]
        got = real(self, *a)
        if got is not None:
            hits.append(len(got[1]))
        return got

    monkeypatch.setattr(MessageCache, "range_lines", spy)
    return hits


def _spy_kept_sizes(monkeypatch) -> list[int | None]:  # type: ignore[no-untyped-def]
    """Record the ``size`` each whole-mailbox answer was kept with (None: counted by the
    cache), and check that a given one is the lines' true length: a renewed answer's size is
    its old one adjusted by the replaced lines, and a wrong one would let the byte bound
    drift."""
    from rongmail.protocols.imap.msgcache import MessageCache

    sizes: list[int | None] = []
    real = MessageCache.keep_range

    def keep(self, mailbox, key, uids, entries, lines, size=None):  # type: ignore[no-untyped-def]
        assert size is None or size == sum(map(len, lines)), (size, sum(map(len, lines)))
        sizes.append(size)
        return real(self, mailbox, key, uids, entries, lines, size)

    monkeypatch.setattr(MessageCache, "keep_range", keep)
    return sizes


async def test_repeated_fetch_follows_flag_changes(imap: ImapEnv) -> None:
    for i in range(3):
        await imap.deliver(mail(f"r{i}"))

    def client() -> None:
        a, b = _login(imap), _login(imap)
        assert _flags(a) == {1: "", 2: "", 3: ""}
        assert _flags(b) == {1: "", 2: "", 3: ""}
        a.store("2", "+FLAGS", "(\\Flagged)")  # this session's change
        assert _flags(a)[2] == "\\Flagged"
        b.noop()  # the other session learns it
        assert _flags(b) == {1: "", 2: "\\Flagged", 3: ""}
        b.store("2", "-FLAGS", "(\\Flagged)")
        b.store("3", "+FLAGS", "(\\Seen $label1)")
        assert _flags(b) == {1: "", 2: "", 3: "\\Seen $label1"}
        a.noop()
        assert _flags(a) == {1: "", 2: "", 3: "\\Seen $label1"}
        # other item lists (UID added, MODSEQ with CONDSTORE) are never served the old bytes
        typ, data = a.uid("FETCH", "1:*", "(FLAGS ENVELOPE)")
        assert typ == "OK" and all(b"UID " in d[0] if isinstance(d, tuple) else b"UID " in d
                                   for d in data if d), data
        typ, data = a.fetch("1:*", "(FLAGS ENVELOPE MODSEQ)")
        assert typ == "OK" and all(b"MODSEQ (" in (d[0] if isinstance(d, tuple) else d)
                                   for d in data if d), data
        assert _flags(a) == {1: "", 2: "", 3: "\\Seen $label1"}
        for c in (a, b):
            c.logout()

    await imap.run(client)


async def test_whole_mailbox_answers_equal_fresh_ones(imap: ImapEnv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A kept whole-mailbox answer (``MessageCache.range_lines``) is reused only where the
    session's view holds the same UIDs and entries: after flag changes by either session, an
    expunge, a delivery and a UID FETCH, every answer equals the one rendered without it."""
    from rongmail.protocols.imap.commands import fetch as fetch_mod

    hits = _spy_range_hits(monkeypatch)
    sizes = _spy_kept_sizes(monkeypatch)
    for i in range(5):
        await imap.deliver(mail(f"w{i}"))

    def answer(c: imaplib.IMAP4, uid: bool = False) -> list[bytes]:
        typ, data = c.uid("FETCH", "1:*", "(FLAGS ENVELOPE)") if uid else c.fetch(
            "1:*", "(FLAGS ENVELOPE)")
        assert typ == "OK", data
        return [d[0] if isinstance(d, tuple) else d for d in data
                if d and b"ENVELOPE" in (d[0] if isinstance(d, tuple) else d)]

    def same(c: imaplib.IMAP4, uid: bool = False) -> list[bytes]:
        fetch_mod.RANGE_MIN = 10**9  # rendered afresh
        fresh = answer(c, uid)
        fetch_mod.RANGE_MIN = 2
        first, again = answer(c, uid), answer(c, uid)
        assert first == fresh and again == fresh, (fresh, first, again)
        return fresh

    def client() -> None:
        a, b = _login(imap), _login(imap)
        same(a)
        same(b)
        a.store("2", "+FLAGS", "(\\Flagged)")
        same(a)
        b.noop()
        assert b"\\Flagged" in same(b)[1]
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        assert len(same(b)) == 4
        assert len(same(a)) == 5  # a has not been told of the expunge yet: its own numbering
        a.noop()
        assert len(same(a)) == 4
        imap.deliver_from_thread(mail("w9"))
        a.noop()
        assert len(same(a)) == 5
        same(a, uid=True)
        for c in (a, b):
            c.logout()

    monkeypatch.setattr(fetch_mod, "RANGE_MIN", 2)
    await imap.run(client)
    assert any(n == 0 for n in hits) and any(n > 0 for n in hits), hits
    # kept afresh (counted), and renewed with stale lines replaced (adjusted)
    assert None in sizes and any(n is not None for n in sizes), sizes


async def test_concurrent_cold_whole_mailbox_fetches_render_once(imap: ImapEnv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two sessions ask for the same whole-mailbox answer while neither is kept: the second
    waits for the first's rendering (``MessageCache.wait_building``) and reuses its lines,
    and both answers equal a fresh one."""
    import asyncio
    import threading

    from rongmail.protocols.imap.commands import fetch as fetch_mod
    from rongmail.store.reader import Reader

    for i in range(40):
        await imap.deliver(mail(f"c{i}"))
    monkeypatch.setattr(fetch_mod, "RANGE_MIN", 2)
    monkeypatch.setattr(fetch_mod, "BATCH", 1)  # rows-only batches of 8: several steps
    real_parts = Reader.message_parts

    async def slow_parts(self, account_id, ids):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)  # a cold read that takes a while
        return await real_parts(self, account_id, ids)

    monkeypatch.setattr(Reader, "message_parts", slow_parts)
    hits = _spy_range_hits(monkeypatch)

    def answer(c: imaplib.IMAP4) -> list[bytes]:
        typ, data = c.fetch("1:*", "(FLAGS ENVELOPE)")
        assert typ == "OK", data
        return [d[0] if isinstance(d, tuple) else d for d in data
                if d and b"ENVELOPE" in (d[0] if isinstance(d, tuple) else d)]

    def client() -> None:
        a, b = _login(imap), _login(imap)
        got: dict[str, list[bytes]] = {}

        def second() -> None:
            threading.Event().wait(0.08)  # a's rendering has started
            got["b"] = answer(b)

        t = threading.Thread(target=second)
        t.start()
        got["a"] = answer(a)
        t.join()
        assert len(got["a"]) == 40 and got["a"] == got["b"]
        assert hits == [0], f"b reused a's kept answer, nothing stale: {hits}"
        fetch_mod.RANGE_MIN = 10**9  # rendered afresh
        assert answer(a) == got["a"]
        for c in (a, b):
            c.logout()

    await imap.run(client)
