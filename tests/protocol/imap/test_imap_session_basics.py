"""Greeting, CAPABILITY, LOGIN/AUTHENTICATE, ID, ENABLE, NOOP, LOGOUT over a real socket
(RFC 9051 §6.1-§6.3, RFC 2971, RFC 5161, RFC 4959)."""

from __future__ import annotations

import imaplib
import socket

import pytest
from imap_helpers import PASSWORD, USER, ImapEnv


def _raw(env: ImapEnv, lines: list[bytes], *, expect: int) -> list[bytes]:
    """Send raw lines, return the reply lines until ``expect`` tagged replies were seen."""
    with socket.create_connection((env.host, env.port), timeout=10) as sock:
        f = sock.makefile("rb")
        out = [f.readline()]
        sock.sendall(b"".join(lines))
        tagged = 0
        while tagged < expect:
            line = f.readline()
            if not line:
                break
            out.append(line)
            if not line.startswith((b"*", b"+")):
                tagged += 1
        return out


async def test_greeting_and_capability(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        assert "IMAP4REV2" in c.capabilities and "IMAP4REV1" in c.capabilities
        assert "STARTTLS" in c.capabilities and "AUTH=PLAIN" in c.capabilities
        typ, data = c.login(USER, PASSWORD)
        assert typ == "OK"
        typ, data = c.capability()
        caps = data[0].decode().split()
        for cap in ("IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH",
                    "LITERAL+", "SPECIAL-USE", "LIST-STATUS", "UTF8=ACCEPT", "COMPRESS=DEFLATE"):
            assert cap in caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
        assert c.noop()[0] == "OK"
        assert c.logout()[0] == "BYE"

    await imap.run(client)


async def test_wrong_password_is_no_authenticationfailed(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            c.login(USER, "wrong-password")
        c.logout()

    await imap.run(client)


async def test_authenticate_plain_with_sasl_ir_and_without(imap: ImapEnv) -> None:
    import base64

    ir = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    replies = await imap.run(lambda: _raw(imap, [b"a1 AUTHENTICATE PLAIN " + ir + b"\r\n"], expect=1))
    assert replies[-1].startswith(b"a1 OK [CAPABILITY ")

    def no_ir() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        typ, _ = c.authenticate("PLAIN", lambda _challenge: f"\0{USER}\0{PASSWORD}".encode())
        assert typ == "OK"
        c.logout()

    await imap.run(no_ir)


async def test_authenticate_login_mechanism(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        answers = iter([USER.encode(), PASSWORD.encode()])
        typ, _ = c.authenticate("LOGIN", lambda _challenge: next(answers))
        assert typ == "OK"
        c.logout()

    await imap.run(client)


async def test_id_enable_and_state_errors(imap: ImapEnv) -> None:
    replies = await imap.run(lambda: _raw(imap, [
        b"a0 SELECT INBOX\r\n",
        b'a1 ID ("name" "pytest")\r\n',
        b"a2 LOGIN lisi@demo.test Secret-pass-123\r\n",
        b"a3 ENABLE CONDSTORE QRESYNC UTF8=ACCEPT X-UNKNOWN\r\n",
        b"a4 FROBNICATE\r\n",
        b"a5 LOGOUT\r\n",
    ], expect=6))
    text = b"".join(replies)
    assert b"a0 BAD" in text
    assert b'* ID ("name" "RongMail")' in text
    assert b"* ENABLED QRESYNC CONDSTORE UTF8=ACCEPT\r\n" in text or (
        b"* ENABLED CONDSTORE QRESYNC UTF8=ACCEPT\r\n" in text
    )
    assert b"a4 BAD" in text and b"* BYE" in text and b"a5 OK" in text


async def test_literal_plus_and_sync_literal_login(imap: ImapEnv) -> None:
    replies = await imap.run(lambda: _raw(imap, [
        b"a1 LOGIN {14+}\r\nlisi@demo.test {15+}\r\nSecret-pass-123\r\n",
        b"a2 LOGOUT\r\n",
    ], expect=2))
    assert any(r.startswith(b"a1 OK") for r in replies)


async def test_overlong_line_gets_bad_and_connection_survives(imap: ImapEnv) -> None:
    replies = await imap.run(lambda: _raw(imap, [
        b"a1 NOOP " + b"x" * 20000 + b"\r\n", b"a2 NOOP\r\n",
    ], expect=2))
    assert replies[1].startswith(b"a1 BAD") and replies[2].startswith(b"a2 OK")


async def test_starttls_then_login(imap: ImapEnv, client_tls) -> None:  # type: ignore[no-untyped-def]
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.starttls(ssl_context=client_tls)
        assert "STARTTLS" not in c.capabilities
        assert c.login(USER, PASSWORD)[0] == "OK"
        c.logout()

    await imap.run(client)


async def test_implicit_tls(imap: ImapEnv, client_tls) -> None:  # type: ignore[no-untyped-def]
    assert imap.tls_port is not None

    def client() -> None:
        c = imaplib.IMAP4_SSL(imap.host, imap.tls_port, ssl_context=client_tls)
        assert c.login(USER, PASSWORD)[0] == "OK"
        c.logout()

    await imap.run(client)


async def test_sasl_bad_utf8_and_proxy_authzid(imap: ImapEnv) -> None:
    import base64

    bad = base64.b64encode(b"\0\xff\xfe\0pw")
    proxy = base64.b64encode(f"boss@demo.test\0{USER}\0{PASSWORD}".encode())
    replies = await imap.run(lambda: _raw(imap, [
        b"a1 AUTHENTICATE PLAIN " + bad + b"\r\n",
        b"a2 AUTHENTICATE PLAIN " + proxy + b"\r\n",
    ], expect=2))
    assert replies[1].startswith(b"a1 BAD")
    assert replies[2].startswith(b"a2 NO [AUTHORIZATIONFAILED]")


async def test_starttls_discards_pipelined_plaintext(imap: ImapEnv, client_tls) -> None:  # type: ignore[no-untyped-def]
    """CVE-2011-0411 class: commands sent in clear text after STARTTLS must not run."""

    def client() -> list[bytes]:
        raw = socket.create_connection((imap.host, imap.port), timeout=10)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"a STARTTLS\r\nb LOGIN lisi@demo.test Secret-pass-123\r\n")
        assert f.readline().startswith(b"a OK")
        tls = client_tls.wrap_socket(raw, server_hostname="mail.demo.test")
        tf = tls.makefile("rb")
        tls.sendall(b"c NOOP\r\n")
        lines = [tf.readline()]
        tls.close()
        return lines

    lines = await imap.run(client)
    assert lines == [b"c OK NOOP completed\r\n"]  # no reply to "b": it was dropped


async def test_login_timeout_says_bye(imap: ImapEnv) -> None:
    from dataclasses import replace

    server = imap.extra["server"]
    server.deps.options = replace(server.deps.options, login_timeout=0.3)

    def client() -> bytes:
        with socket.create_connection((imap.host, imap.port), timeout=5) as sock:
            f = sock.makefile("rb")
            f.readline()
            return f.readline()

    line = await imap.run(client)
    assert line.startswith(b"* BYE")


async def test_an_ended_session_is_freed_without_the_cycle_collector(imap: ImapEnv) -> None:
    """A closed connection's Session (and its view) goes with its last reference: no cycle
    through the shell's flush callback waits for a full garbage collection."""
    import asyncio
    import gc
    import weakref

    server = imap.extra["server"]
    c = await imap.run(lambda: imaplib.IMAP4(imap.host, imap.port))
    await imap.run(lambda: c.login(USER, PASSWORD))
    await imap.run(lambda: c.select("INBOX"))
    [session] = list(server.sessions)
    ref = weakref.ref(session)
    view = weakref.ref(session.view)
    del session
    gc.disable()
    try:
        await imap.run(c.logout)
        for _ in range(100):
            if not server.sessions:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the connection task finishes
        assert ref() is None and view() is None
    finally:
        gc.enable()



async def test_a_login_is_background_work_held_back_longest(
        imap: ImapEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LOGIN's credential check waits for the loop's idle moment, up to ``LOGIN_MAX_WAIT``
    (longer than other background work's default: logged-in sessions' commands run first;
    ``tests/unit/test_turns.py`` shows a never-idle loop holds a waiter that long)."""
    import rongmail.protocols.imap.commands.auth as auth
    from rongmail.core.turns import DEFAULT_MAX_WAIT, background_turn

    waits: list[float] = []

    async def recorded(max_wait: float = DEFAULT_MAX_WAIT) -> None:
        waits.append(max_wait)
        await background_turn(max_wait)

    monkeypatch.setattr(auth, "background_turn", recorded)

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        assert c.noop()[0] == "OK"
        c.logout()

    await imap.run(client)
    assert waits == [auth.LOGIN_MAX_WAIT]
    assert auth.LOGIN_MAX_WAIT > DEFAULT_MAX_WAIT
