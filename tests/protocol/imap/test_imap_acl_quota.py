"""ACL (RFC 4314) and QUOTA (RFC 9208) as far as the store supports them today, plus the
connection limits."""

from __future__ import annotations

import imaplib
import socket

import pytest
from imap_helpers import PASSWORD, USER, ImapEnv


async def test_myrights_getacl_listrights(imap: ImapEnv) -> None:
    def client() -> dict[str, list[bytes]]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        out = {}
        for cmd, args, name in (("MYRIGHTS", ("INBOX",), "MYRIGHTS"),
                                ("GETACL", ("INBOX",), "ACL")):
            typ, _ = c._simple_command(cmd, *args)
            assert typ == "OK"
            out[name] = c.untagged_responses.pop(name)
        typ, data = c._simple_command("SETACL", "INBOX", "bob", "lr")
        assert typ == "NO" and data[0].startswith(b"[CANNOT]")
        c.send(b"L1 LISTRIGHTS INBOX bob\r\n")  # not in imaplib's command table
        assert c.readline() == b'* LISTRIGHTS "INBOX" "bob" "" l r s w i p k x t e c d a n\r\n'
        assert c.readline().startswith(b"L1 OK")
        c.logout()
        return out

    out = await imap.run(client)
    assert out["MYRIGHTS"] == [b'"INBOX" "lrswipkxtecdan"']
    assert out["ACL"] == [b'"INBOX" "lisi@demo.test" "lrswipkxtecdan"']


async def test_quota_root(imap: ImapEnv) -> None:
    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, data = c.getquotaroot("INBOX")
        assert typ == "OK"
        typ, data = c._simple_command("SETQUOTA", '""', "(STORAGE 10)")
        assert typ == "NO"
        c.logout()
        return data

    await imap.run(client)


async def test_sessions_per_user_limit(imap: ImapEnv) -> None:
    def client() -> None:
        sessions = []
        for _ in range(10):
            c = imaplib.IMAP4(imap.host, imap.port)
            c.login(USER, PASSWORD)
            sessions.append(c)
        extra = imaplib.IMAP4(imap.host, imap.port)
        with pytest.raises(imaplib.IMAP4.error, match="LIMIT"):
            extra.login(USER, PASSWORD)
        for c in sessions:
            c.logout()

    await imap.run(client)


async def test_plaintext_login_refused_without_tls_by_default(imap: ImapEnv) -> None:
    from dataclasses import replace

    server = imap.extra.get("server")
    if server is None:
        pytest.skip("fixture does not expose the server")
    server.deps.options = replace(server.deps.options, allow_plaintext_auth=False)

    def client() -> None:
        with socket.create_connection((imap.host, imap.port), timeout=5) as sock:
            f = sock.makefile("rb")
            greeting = f.readline()
            assert b"LOGINDISABLED" in greeting and b"STARTTLS" in greeting
            sock.sendall(b"a LOGIN lisi@demo.test Secret-pass-123\r\n")
            assert f.readline().startswith(b"a NO [PRIVACYREQUIRED]")

    await imap.run(client)


async def test_sessions_per_ip_limit(imap: ImapEnv) -> None:
    def client() -> bytes:
        socks = [socket.create_connection((imap.host, imap.port), timeout=5) for _ in range(20)]
        try:
            for s in socks:
                assert s.makefile("rb").readline().startswith(b"* OK")
            with socket.create_connection((imap.host, imap.port), timeout=5) as extra:
                return extra.makefile("rb").readline()
        finally:
            for s in socks:
                s.close()

    line = await imap.run(client)
    assert line.startswith(b"* BYE [UNAVAILABLE]")
