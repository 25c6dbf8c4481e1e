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
