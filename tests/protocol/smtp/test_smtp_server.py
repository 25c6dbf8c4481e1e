"""SMTP over real loopback sockets: smtplib (Python's client) and raw sockets for what smtplib
cannot express (pipelined groups, BDAT, smuggling, STARTTLS injection)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import time

import pytest
from smtp_fakes import Starter

SUB_MSG = (
    b"From: Alice <alice@example.com>\r\nTo: friend@remote.example\r\nSubject: s\r\n\r\nhi\r\n"
)
MSG = b"From: a@example.net\r\nTo: alice@example.com\r\nSubject: t\r\n\r\nhello\r\n.dot line\r\n"


def recv_replies(sock: socket.socket, count: int, timeout: float = 5.0) -> list[str]:
    """Read until ``count`` final reply lines arrived; returns all lines."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        lines = buf.decode(errors="replace").split("\r\n")[:-1]
        if sum(1 for ln in lines if len(ln) >= 4 and ln[3] == " ") >= count:
            return lines
        if time.monotonic() > deadline:
            raise TimeoutError(lines)
        chunk = sock.recv(65536)
        if not chunk:
            return lines
        buf += chunk


def finals(lines: list[str]) -> list[str]:
    return [ln[:9].rstrip() if ln[4:5].isdigit() else ln[:3] for ln in lines if ln[3:4] == " "]


def connect(server, kind: str = "smtp") -> socket.socket:  # type: ignore[no-untyped-def]
    host, port = server.addresses[kind]
    return socket.create_connection((host, port), timeout=5)


async def test_smtplib_mx_delivery(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    host, port = server.addresses["smtp"]

    def run() -> dict[str, str]:
        with smtplib.SMTP(host, port, local_hostname="client.example.net") as c:
            c.ehlo()
            features = dict(c.esmtp_features)
            refused = c.sendmail("a@example.net", ["alice@example.com", "bob+x@example.com"], MSG)
            assert refused == {}
            return features

    features = await asyncio.to_thread(run)
    for kw in (
        "pipelining",
        "chunking",
        "8bitmime",
        "smtputf8",
        "dsn",
        "starttls",
        "size",
        "enhancedstatuscodes",
    ):
        assert kw in features
    assert delivery.messages == [MSG.replace(b"\r\n.dot", b"\r\n.dot")]
    env = delivery.delivered[0][0]
    assert [r.resolution.account_ids for r in env.rcpts] == [(1,), (2,)]
    assert env.client.ip == "127.0.0.1" and not env.client.tls


async def test_smtplib_relay_denied_and_unknown_user(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    host, port = server.addresses["smtp"]

    def run() -> None:
        with smtplib.SMTP(host, port) as c:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("alice@example.com", ["victim@remote.example"], MSG)
            code, text = e.value.recipients["victim@remote.example"]
            assert code == 554 and text.startswith(b"5.7.1")
            c.rset()
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("a@example.net", ["nobody@example.com"], MSG)
            assert e.value.recipients["nobody@example.com"][0] == 550

    await asyncio.to_thread(run)
    assert not delivery.delivered


async def test_pipelined_group_over_socket(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()

    def run() -> list[str]:
        with connect(server) as s:
            recv_replies(s, 1)
            s.sendall(
                b"EHLO c.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n"
                b"RCPT TO:<nope@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
            )
            lines = recv_replies(s, 6)
            s.sendall(b"body\r\n.\r\nQUIT\r\n")
            return finals(lines) + finals(recv_replies(s, 2))

    assert await asyncio.to_thread(run) == [
        "250",
        "250 2.1.0",
        "250 2.1.5",
        "550 5.1.1",
        "250 2.1.5",
        "354",
        "250 2.0.0",
        "221 2.0.0",
    ]
    assert delivery.messages == [b"body\r\n"]


async def test_bdat_over_socket(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    body = b"Subject: chunked\r\n\r\n" + b"x" * 70000 + b"\r\n"

    def run() -> list[str]:
        with connect(server) as s:
            recv_replies(s, 1)
            s.sendall(b"EHLO c\r\n")
            recv_replies(s, 1)
            s.sendall(
                b"MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n"
                + b"BDAT 10\r\n"
                + body[:10]
                + b"BDAT %d LAST\r\n" % (len(body) - 10)
                + body[10:]
            )
            return finals(recv_replies(s, 4))

    assert await asyncio.to_thread(run) == ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"]
    assert delivery.messages == [body]


@pytest.mark.parametrize("fake_end", [b"\n.\r\n", b"\r.\r", b"\n.\n", b"\r\n.\n", b"\n.\r"])
async def test_smuggling_over_socket(smtp_server: Starter, fake_end: bytes) -> None:
    server, delivery = await smtp_server()

    def run() -> list[str]:
        with connect(server) as s:
            recv_replies(s, 1)
            s.sendall(
                b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
            )
            recv_replies(s, 4)
            s.sendall(
                b"Subject: one\r\n\r\nfirst"
                + fake_end
                + b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                + b"Subject: smuggled\r\n\r\nsecond\r\n.\r\nQUIT\r\n"
            )
            return finals(recv_replies(s, 2))

    assert await asyncio.to_thread(run) == ["554 5.6.0", "221 2.0.0"]
    assert not delivery.delivered


async def test_starttls_injection_is_discarded(
    smtp_server: Starter, client_tls: ssl.SSLContext
) -> None:
    server, delivery = await smtp_server()

    def run() -> tuple[list[str], list[str]]:
        raw = connect(server)
        recv_replies(raw, 1)
        raw.sendall(b"EHLO c\r\n")
        recv_replies(raw, 1)
        raw.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@remote.example>\r\n")
        first = recv_replies(raw, 1)
        tls = client_tls.wrap_socket(raw, server_hostname="mx.example.com")
        tls.sendall(b"NOOP\r\n")
        after = recv_replies(tls, 1)
        tls.sendall(b"MAIL FROM:<a@example.net>\r\nQUIT\r\n")
        after += recv_replies(tls, 2)
        tls.close()
        return first, after

    first, after = await asyncio.to_thread(run)
    assert first == ["220 2.0.0 Ready to start TLS"]
    # Only NOOP's reply comes first: nothing injected before TLS was executed or answered.
    assert finals(after) == ["250 2.0.0", "503 5.5.1", "221 2.0.0"]
    assert after[0] == "250 2.0.0 OK"


async def test_submission_starttls_auth_and_relay(
    smtp_server: Starter, client_tls: ssl.SSLContext
) -> None:
    server, delivery = await smtp_server()
    host, port = server.addresses["submission"]

    def run() -> None:
        with smtplib.SMTP(host, port) as c:
            c.ehlo()
            assert not c.has_extn("auth")
            code, text = c.docmd("AUTH", "PLAIN AGFsaWNlAHMzY3JldA==")
            assert (code, text[:6]) == (538, b"5.7.11")
            code, _ = c.docmd("MAIL", "FROM:<alice@example.com>")
            assert code == 530
            c.starttls(context=client_tls)
            c.ehlo()
            assert c.has_extn("auth")
            with pytest.raises(smtplib.SMTPAuthenticationError):
                c.login("alice", "wrong")
            c.login("alice", "s3cret")
            with pytest.raises(smtplib.SMTPSenderRefused):
                c.sendmail("bob@example.com", ["friend@remote.example"], SUB_MSG)
            with pytest.raises(smtplib.SMTPDataError) as e:  # header From: not hers
                c.sendmail("alice@example.com", ["friend@remote.example"], MSG)
            assert e.value.smtp_code == 553
            c.sendmail("alice@example.com", ["friend@remote.example"], SUB_MSG)

    await asyncio.to_thread(run)
    ((env, _),) = delivery.delivered
    assert (
        env.auth is not None and env.client.tls and env.client.tls_version in ("TLSv1.2", "TLSv1.3")
    )
    assert b"ESMTPSA" in env.trace


async def test_submissions_implicit_tls(smtp_server: Starter, client_tls: ssl.SSLContext) -> None:
    server, delivery = await smtp_server()
    host, port = server.addresses["submissions"]

    def run() -> None:
        with smtplib.SMTP_SSL(host, port, context=client_tls) as c:
            c.ehlo()
            assert not c.has_extn("starttls")
            c.login("alice", "s3cret")
            c.sendmail("alice@example.com", ["bob@example.com"], SUB_MSG)

    await asyncio.to_thread(run)
    assert len(delivery.delivered) == 1 and delivery.delivered[0][0].client.tls


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_tls_below_1_2_refused(smtp_server: Starter) -> None:
    server, _ = await smtp_server()
    host, port = server.addresses["submissions"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("local OpenSSL cannot even offer TLS 1.1")

    def run() -> None:
        with socket.create_connection((host, port), timeout=5) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                ctx.wrap_socket(raw).recv(100)

    await asyncio.to_thread(run)


async def test_per_ip_connection_limit(smtp_server: Starter) -> None:
    server, _ = await smtp_server(max_connections_per_ip=2)

    def run() -> list[str]:
        a, b = connect(server), connect(server)
        recv_replies(a, 1)
        recv_replies(b, 1)
        with connect(server) as c:
            third = recv_replies(c, 1)
        a.close()
        b.close()
        return third

    third = await asyncio.to_thread(run)
    assert third[0].startswith("421 4.7.0")
    await asyncio.sleep(0.1)
    assert server.active_connections == 0


async def test_idle_timeout(smtp_server: Starter) -> None:
    server, _ = await smtp_server(idle_timeout=0.3)

    def run() -> list[str]:
        with connect(server) as s:
            recv_replies(s, 1)
            return recv_replies(s, 1, timeout=5)

    lines = await asyncio.to_thread(run)
    assert lines[0].startswith("421 4.4.2")


async def test_idle_timeout_counts_from_the_last_read(smtp_server: Starter) -> None:
    """The connection's one read timer, armed by the first read, re-arms at the deadline of
    the read that waits when it fires: a client active every 0.1 s outlives several idle
    periods of 0.3 s, then is closed about 0.3 s after it falls silent."""
    server, _ = await smtp_server(idle_timeout=0.3)

    def run() -> tuple[list[str], float]:
        with connect(server) as s:
            recv_replies(s, 1)
            replies: list[str] = []
            for _ in range(10):  # 1 s of activity: past three idle deadlines of the first read
                time.sleep(0.1)
                s.sendall(b"NOOP\r\n")
                replies += recv_replies(s, 1)
            quiet = time.monotonic()
            replies += recv_replies(s, 1, timeout=5)
            return replies, time.monotonic() - quiet

    replies, silent = await asyncio.to_thread(run)
    assert all(r.startswith("250") for r in replies[:10]), replies
    assert replies[10].startswith("421 4.4.2")
    assert 0.25 <= silent < 2.0


async def test_shutdown_says_421(smtp_server: Starter) -> None:
    server, _ = await smtp_server()
    sock = await asyncio.to_thread(connect, server)
    await asyncio.to_thread(recv_replies, sock, 1)
    await server.aclose(grace=2)
    lines = await asyncio.to_thread(recv_replies, sock, 1)
    sock.close()
    assert lines[0].startswith("421 4.3.2")


async def test_without_tls_submissions_is_skipped_and_close_protocol() -> None:
    from smtp_fakes import make_services

    from rongmail.config.smtp import SmtpSettings
    from rongmail.protocols.smtp.server import start_smtp

    settings = SmtpSettings()
    services, _ = make_services(settings)
    server = await start_smtp(
        settings=settings,
        services=services,
        hostname="mx.example.com",
        listeners={"smtp": ("127.0.0.1", 0), "submissions": ("127.0.0.1", 0)},
        tls=None,
    )
    assert set(server.addresses) == {"smtp"}

    def ehlo() -> list[str]:
        with connect(server) as s:
            recv_replies(s, 1)
            s.sendall(b"EHLO c\r\n")
            return recv_replies(s, 1)

    assert not any("STARTTLS" in line for line in await asyncio.to_thread(ehlo))
    server.close()  # the asyncio.Server shape App.close() uses
    await server.wait_closed()


async def test_session_time_limit(smtp_server: Starter) -> None:
    server, _ = await smtp_server(session_timeout=0.6, idle_timeout=30)

    def run() -> list[str]:
        lines: list[str] = []
        with connect(server) as s:
            recv_replies(s, 1)
            for _ in range(20):  # busy, never idle: only the total limit can end it
                try:
                    s.sendall(b"NOOP\r\n")
                    lines += recv_replies(s, 1)
                except OSError:
                    break
                if lines[-1].startswith("421"):
                    break
                time.sleep(0.1)
        return lines

    lines = await asyncio.to_thread(run)
    assert lines[-1].startswith("421 4.4.2") and "time limit" in lines[-1]
