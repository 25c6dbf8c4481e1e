"""Live updates: IDLE (RFC 9051 §6.3.13), untagged EXISTS/EXPUNGE/FETCH after changes made by
another session or by delivery, CONDSTORE/QRESYNC (RFC 7162) and COMPRESS (RFC 4978)."""

from __future__ import annotations

import imaplib
import re
import socket
import time
import zlib

from imap_helpers import PASSWORD, USER, ImapEnv, mail
from imapclient import IMAPClient


def _client(env: ImapEnv) -> IMAPClient:
    c = IMAPClient(env.host, port=env.port, ssl=False, timeout=10)
    c.login(USER, PASSWORD)
    return c


async def test_idle_sees_delivery_within_a_second(imap: ImapEnv) -> None:
    await imap.deliver(mail("i0"))

    def client() -> float:
        c = _client(imap)
        c.select_folder("INBOX")
        c.idle()
        start = time.monotonic()
        imap.deliver_from_thread(mail("i1"))
        responses = c.idle_check(timeout=5)
        elapsed = time.monotonic() - start
        c.idle_done()
        assert (2, b"EXISTS") in responses
        c.logout()
        return elapsed

    elapsed = await imap.run(client)
    assert elapsed < 1.0


async def test_idle_sees_other_sessions_flags_and_expunge(imap: ImapEnv) -> None:
    for i in range(3):
        await imap.deliver(mail(f"o{i}"))

    def client() -> None:
        watcher = _client(imap)
        watcher.select_folder("INBOX")
        other = _client(imap)
        other.select_folder("INBOX")
        watcher.idle()
        other.add_flags([2], [b"\\Flagged"])
        got = watcher.idle_check(timeout=5)
        assert any(r[1] == b"FETCH" and r[0] == 2 for r in got), got
        other.add_flags([1], [b"\\Deleted"])
        other.expunge()
        got = []
        deadline = time.monotonic() + 5
        while not any(r == (1, b"EXPUNGE") for r in got) and time.monotonic() < deadline:
            got += watcher.idle_check(timeout=1)
        watcher.idle_done()
        assert (1, b"EXPUNGE") in got, got
        assert watcher.search("ALL") == [3, 4] or watcher.search("ALL") == [2, 3]
        other.logout()
        watcher.logout()

    await imap.run(client)


async def test_noop_reports_changes_without_idle(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.select("INBOX")
        imap.deliver_from_thread(mail("n1"))
        typ, data = c.noop()
        assert c.untagged_responses.get("EXISTS")[-1] == b"1"
        c.logout()

    await imap.run(client)


async def test_condstore_changedsince_and_unchangedsince(imap: ImapEnv) -> None:
    for i in range(3):
        await imap.deliver(mail(f"q{i}"))

    def client() -> None:
        c = _client(imap)
        c.enable("CONDSTORE")
        info = c.select_folder("INBOX")
        high = info[b"HIGHESTMODSEQ"]
        c.add_flags([2], [b"\\Seen"])
        changed = c.fetch([1, 2, 3], ["FLAGS"], modifiers=[f"CHANGEDSINCE {high}"])
        assert list(changed) == [2] and changed[2][b"MODSEQ"][0] > high
        c._imap.send(f"S1 STORE 1:3 (UNCHANGEDSINCE {high}) +FLAGS.SILENT (\\Flagged)\r\n".encode())
        lines = []
        while True:
            line = c._imap.readline()
            lines.append(line)
            if line.startswith(b"S1 "):
                break
        assert lines[-1].startswith(b"S1 OK [MODIFIED 2]"), lines
        c.logout()

    await imap.run(client)


async def test_qresync_select_reports_vanished_and_changes(imap: ImapEnv) -> None:
    for i in range(5):
        await imap.deliver(mail(f"v{i}"))

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c._simple_command("ENABLE", "QRESYNC")
        c.select("INBOX")
        uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
        typ, data = c._simple_command("STATUS", "INBOX", "(HIGHESTMODSEQ)")
        modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", c.untagged_responses.pop("STATUS")[0]).group(1))
        c.store("2", "+FLAGS", "\\Deleted")
        c.expunge()  # QRESYNC: announced as VANISHED, not EXPUNGE
        assert c.untagged_responses.pop("VANISHED") == [b"2"]
        c.store("4", "+FLAGS", "\\Answered")  # message with UID 5 (seq 4 after the expunge)
        c.unselect()
        c.untagged_responses.clear()
        typ, data = c._simple_command("SELECT", f"INBOX (QRESYNC ({uidvalidity} {modseq} 1:5))")
        assert typ == "OK"
        assert c.untagged_responses["VANISHED"] == [b"(EARLIER) 2"]
        fetched = c.untagged_responses["FETCH"]
        assert any(b"UID 5" in f and b"\\Answered" in f for f in fetched)
        c.logout()

    await imap.run(client)


async def test_compress_deflate(imap: ImapEnv) -> None:
    def client() -> None:
        sock = socket.create_connection((imap.host, imap.port), timeout=10)
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"a LOGIN lisi@demo.test Secret-pass-123\r\n")
        assert f.readline().startswith(b"a OK")
        sock.sendall(b"b COMPRESS DEFLATE\r\n")
        assert f.readline().startswith(b"b OK")
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        decomp = zlib.decompressobj(-15)
        sock.sendall(comp.compress(b"c NOOP\r\nd LIST \"\" INBOX\r\n") + comp.flush(zlib.Z_SYNC_FLUSH))
        out = b""
        while b"d OK" not in out:
            chunk = sock.recv(4096)
            assert chunk
            out += decomp.decompress(chunk)
        assert b"c OK" in out and b'"INBOX"' in out
        sock.close()

    await imap.run(client)


async def test_append_to_selected_mailbox_reports_exists(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.select("INBOX")
        typ, data = c.append("INBOX", None, None, mail("a1"))
        assert typ == "OK"
        assert c.untagged_responses.get("EXISTS", [b""])[-1] == b"1"
        c.logout()

    await imap.run(client)


async def test_uid_fetch_changedsince_vanished(imap: ImapEnv) -> None:
    for i in range(4):
        await imap.deliver(mail(f"w{i}"))

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c._simple_command("ENABLE", "QRESYNC")
        c.select("INBOX")
        modseq = int(c.untagged_responses["HIGHESTMODSEQ"][0])
        c.store("1", "+FLAGS", "\\Deleted")
        c.expunge()
        c.store("2", "+FLAGS", "\\Seen")  # UID 3
        c.untagged_responses.clear()
        typ, _ = c._simple_command("UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {modseq} VANISHED)")
        assert typ == "OK"
        assert c.untagged_responses["VANISHED"] == [b"(EARLIER) 1"]
        fetched = c.untagged_responses["FETCH"]
        assert len(fetched) == 1 and b"UID 3" in fetched[0] and b"MODSEQ" in fetched[0]
        c.logout()

    await imap.run(client)
