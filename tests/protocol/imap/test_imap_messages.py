"""SELECT/EXAMINE, APPEND, FETCH, STORE, COPY, MOVE, EXPUNGE, CLOSE/UNSELECT over real sockets
(RFC 9051 §6.3.2, §6.3.12, §6.4; RFC 4315 UIDPLUS; RFC 6851 MOVE; RFC 3516 BINARY)."""

from __future__ import annotations

import imaplib
import re

from imap_helpers import PASSWORD, PLAIN, USER, ImapEnv, mail
from imapclient import IMAPClient

MULTIPART = (
    b"From: a@example.com\r\nTo: b@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=a.bin\r\n\r\nAAECAw==\r\n"
    b"--XX--\r\n"
)


def _client(env: ImapEnv) -> IMAPClient:
    c = IMAPClient(env.host, port=env.port, ssl=False, timeout=10)
    c.login(USER, PASSWORD)
    return c


async def test_append_select_fetch_rfc_example(imap: ImapEnv) -> None:
    raw = mail("f1", PLAIN)

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, data = c.append("INBOX", "(\\Seen)", '"07-Feb-1994 21:52:25 -0800"', raw)
        assert typ == "OK" and b"APPENDUID" in data[0]
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"1"]
        assert c.untagged_responses.get("UIDVALIDITY")
        typ, data = c.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID)")
        head = data[0] if isinstance(data[0], bytes) else data[0][0]
        assert b"FLAGS (\\Seen)" in head
        # The instant is kept; the store keeps UTC seconds, so it is shown in the server's
        # zone (Asia/Shanghai by default) rather than the -0800 it was appended with.
        assert b'INTERNALDATE "08-Feb-1994 13:52:25 +0800"' in head
        assert b"RFC822.SIZE %d" % len(raw) in head
        assert b'"afternoon meeting" (("Fred Foobar" NIL "foobar" "Blurdybloop.example"))' in head
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT]<0.5>)")
        parts = [d for d in data if isinstance(d, tuple)]
        assert parts[0][1] == b"Subject: afternoon meeting\r\n\r\n"
        assert parts[1][1] == b"Hello"
        typ, data = c.fetch("1", "(RFC822)")
        assert data[0][1] == raw
        c.logout()

    await imap.run(client)


async def test_fetch_body_sets_seen_peek_does_not(imap: ImapEnv) -> None:
    await imap.deliver(mail("s1"))

    def client() -> None:
        c = _client(imap)
        c.select_folder("INBOX")
        c.fetch([1], ["BODY.PEEK[]"])
        assert c.get_flags([1])[1] == ()
        res = c.fetch([1], ["BODY[]"])
        assert res[1][b"BODY[]"] == mail("s1")
        assert b"\\Seen" in c.get_flags([1])[1]
        c.logout()

    await imap.run(client)


async def test_bodystructure_sections_and_binary(imap: ImapEnv) -> None:
    await imap.deliver(MULTIPART)

    def client() -> None:
        c = _client(imap)
        c.select_folder("INBOX", readonly=True)
        res = c.fetch([1], ["BODYSTRUCTURE", "BODY.PEEK[1]", "BODY.PEEK[2.MIME]",
                            "BINARY.PEEK[1]", "BINARY.SIZE[2]"])[1]
        bs = res[b"BODYSTRUCTURE"]
        assert bs.is_multipart
        assert res[b"BODY[1]"] == b"hello"
        assert b"Content-Transfer-Encoding: base64" in res[b"BODY[2.MIME]"]
        assert res[b"BINARY[1]"] == b"hello"
        assert res[b"BINARY.SIZE[2]"] == 4
        c.logout()
        # Decoded content with NUL goes out as literal8 (RFC 3516 §4.2); raw check, since
        # imaplib/imapclient do not parse ~{n}.
        r = imaplib.IMAP4(imap.host, imap.port)
        r.login(USER, PASSWORD)
        r.select("INBOX")
        r.send(b"B1 FETCH 1 (BINARY.PEEK[2])\r\n")
        assert r.readline() == b"* 1 FETCH (BINARY[2] ~{4}\r\n"
        assert r._get_line() == b"\x00\x01\x02\x03)"  # noqa: SLF001
        assert r.readline().startswith(b"B1 OK")
        r.logout()

    await imap.run(client)


async def test_store_flags_and_keywords(imap: ImapEnv) -> None:
    for i in range(3):
        await imap.deliver(mail(f"k{i}"))

    def client() -> None:
        c = _client(imap)
        c.select_folder("INBOX")
        assert c.add_flags([1, 2], [b"\\Flagged", b"$Important"])[1] == (b"\\Flagged", b"$important")
        c.remove_flags([2], [b"\\Flagged"])
        c.set_flags([3], [b"\\Seen", b"\\Answered"])
        flags = c.get_flags([1, 2, 3])
        assert set(flags[1]) == {b"\\Flagged", b"$important"}
        assert set(flags[2]) == {b"$important"}
        assert set(flags[3]) == {b"\\Seen", b"\\Answered"}
        c.logout()

    await imap.run(client)


async def test_copy_move_expunge_uidplus(imap: ImapEnv) -> None:
    for i in range(4):
        await imap.deliver(mail(f"m{i}"))

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.create("&U9F5aA-")  # 发票
        c.select("INBOX")
        typ, data = c._simple_command("UID", "COPY", "1:2", "&U9F5aA-")
        assert typ == "OK" and re.search(rb"COPYUID \d+ 1:2 1:2", data[0])
        typ, data = c._simple_command("UID", "MOVE", "3", "&U9F5aA-")
        assert typ == "OK"
        assert re.search(rb"COPYUID \d+ 3 3", c.untagged_responses["OK"][-1])
        assert c.untagged_responses.pop("EXPUNGE") == [b"3"]
        c.store("1", "+FLAGS", "\\Deleted")
        typ, data = c.expunge()
        assert data == [b"1"]
        typ, data = c.uid("SEARCH", "ALL")
        assert data == [b"2 4"]
        typ, data = c.copy("1", "nowhere")
        assert typ == "NO"
        c.logout()

    await imap.run(client)


async def test_uid_expunge_and_close(imap: ImapEnv) -> None:
    for i in range(3):
        await imap.deliver(mail(f"e{i}"), flags=8)  # \Deleted

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.select("INBOX")
        typ, data = c._simple_command("UID", "EXPUNGE", "2")
        assert typ == "OK" and c.untagged_responses.pop("EXPUNGE") == [b"2"]
        assert c.close()[0] == "OK"  # silently expunges the rest
        typ, data = c.select("INBOX")
        assert data == [b"0"]
        c.logout()

    await imap.run(client)


async def test_examine_is_read_only(imap: ImapEnv) -> None:
    await imap.deliver(mail("r1"))

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, _ = c.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = c.store("1", "+FLAGS", "\\Seen")
        assert typ == "NO" and b"READ-ONLY" in data[0]
        c.fetch("1", "(BODY[])")
        assert c.unselect()[0] == "OK"
        c.logout()

    await imap.run(client)
    entries = await imap.reader.mailbox_entries(imap.inbox.id)
    assert entries[0].flags == 0  # EXAMINE never sets \Seen


async def test_multiappend_and_literal8(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        a, b = mail("x1"), mail("x2")
        cmd = (b"A1 APPEND INBOX {%d+}\r\n%s (\\Flagged) ~{%d+}\r\n%s\r\n" % (len(a), a, len(b), b))
        c.send(cmd)
        line = c.readline()
        assert line.startswith(b"A1 OK [APPENDUID ") and line.rstrip().endswith(b" 1:2] APPEND completed")
        c.logout()

    await imap.run(client)


async def test_append_too_big_and_trycreate(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.send(b"A1 APPEND INBOX {2000000}\r\n")
        assert c.readline().startswith(b"A1 NO [TOOBIG]")
        typ, data = c.append("nowhere", None, None, mail("z"))
        assert typ == "NO" and b"TRYCREATE" in data[0]
        c.logout()

    await imap.run(client)


async def test_select_unseen_code_follows_flag_changes(imap: ImapEnv) -> None:
    """IMAP4rev1 SELECT's ``[UNSEEN n]`` (RFC 3501 §6.3.1) is the first unseen message of the
    mailbox as it is now, after another session's flag changes, and absent when all is seen."""
    for i in range(3):
        await imap.deliver(mail(f"u{i}"))

    def unseen(c: imaplib.IMAP4) -> list[bytes]:
        typ, _ = c.select("INBOX")
        assert typ == "OK"
        return c.untagged_responses.pop("UNSEEN", [])

    def client() -> None:
        a, b = imaplib.IMAP4(imap.host, imap.port), imaplib.IMAP4(imap.host, imap.port)
        for c in (a, b):
            c.login(USER, PASSWORD)
        assert unseen(a) == [b"1"]
        assert unseen(a) == [b"1"]  # unchanged mailbox: the same answer
        b.select("INBOX")
        b.store("1", "+FLAGS", "(\\Seen)")
        assert unseen(a) == [b"2"]
        b.store("2:3", "+FLAGS", "(\\Seen)")
        assert unseen(a) == []
        b.store("2", "-FLAGS", "(\\Seen)")
        assert unseen(a) == [b"2"]
        for c in (a, b):
            c.logout()

    await imap.run(client)
