"""Fixtures for the SMTP end-to-end tests: a Knot DNS server with the test zones, a private
Postfix, a test CA and an MTA-STS policy host (HTTPS on 127.0.0.31:443, or on the next of
``topology.STS_IPS`` when another test run holds that).

Domains (all served by Knot on 127.0.0.53):

* ``rong.test`` — RongMail's own sending domain: SPF ``ip4:127.0.0.20 -all``, DKIM keys
  ``rsa1`` (RSA-2048) and ``ed1`` (Ed25519), DMARC ``p=reject; adkim=s``.
* ``peer.test`` — Postfix's domain, MX ``mx.peer.test`` (127.0.0.30), MTA-STS ``enforce``
  with ``mx: mx.peer.test``.
* ``strict.test`` — same MX, but its MTA-STS policy allows only ``mx.elsewhere.test``.
* ``null.test`` — a null MX (RFC 7505).
* ``far.test`` — reached only through the smart-host route (Postfix as relay).
* ``dane.test`` / ``danebad.test`` — DNSSEC-signed by Knot, MX ``mx`` -> Postfix, with a TLSA
  record pinning Postfix's key (``3 1 1``) / pinning something else. Queried through a
  validating dnsmasq (``validator``) so answers carry the AD bit.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from topology import POSTFIX_IP, SENDER_IP, STS_IPS

from peers import PeerUnavailable, skip_or_fail
from peers.dns_server import DnsmasqValidator, KnotServer, Record, free_port, spf
from peers.postfix import PostfixServer
from peers.tlsca import TestCA
from rongmail.queue import dane
from rongmail.services.mailauth import GeneratedKey, generate_dkim_key

POLICIES = {
    "peer.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.peer.test\r\nmax_age: 86400\r\n",
    "strict.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n",
}

pytestmark = pytest.mark.peer


@pytest.fixture(scope="session")
def dkim_keys() -> tuple[GeneratedKey, GeneratedKey]:
    return (
        generate_dkim_key("rong.test", "rsa1", "rsa-sha256"),
        generate_dkim_key("rong.test", "ed1", "ed25519-sha256"),
    )


SIGNED = ("dane.test", "danebad.test")


@pytest.fixture(scope="session")
def postfix_port() -> int:
    return free_port(POSTFIX_IP)


@pytest.fixture(scope="session")
def postfix_cert(test_ca: TestCA) -> tuple[Path, Path]:
    return test_ca.issue(["mx.peer.test"])


def zones(
    keys: tuple[GeneratedKey, GeneratedKey], tlsa: str, port: int, sts_ip: str
) -> dict[str, list[Record]]:
    rsa, ed = keys
    bad = "0" * 64
    return {
        "dane.test": [
            Record("@", "MX", "10 mx"),
            Record("mx", "A", POSTFIX_IP),
            Record(f"_{port}._tcp.mx", "TLSA", tlsa),
        ],
        "danebad.test": [
            Record("@", "MX", "10 mx"),
            Record("mx", "A", POSTFIX_IP),
            Record(f"_{port}._tcp.mx", "TLSA", f"3 1 1 {bad}"),
        ],
        "rong.test": [
            Record("@", "MX", "10 mx"),
            Record("mx", "A", "127.0.0.40"),
            Record("@", "TXT", spf(f"ip4:{SENDER_IP} -all")),
            Record("rsa1._domainkey", "TXT", rsa.txt),
            Record("ed1._domainkey", "TXT", ed.txt),
            Record("_dmarc", "TXT", "v=DMARC1; p=reject; adkim=s"),
        ],
        "peer.test": [
            Record("@", "MX", "10 mx"),
            Record("mx", "A", POSTFIX_IP),
            Record("@", "TXT", spf(f"ip4:{POSTFIX_IP} -all")),
            Record("_dmarc", "TXT", "v=DMARC1; p=quarantine"),
            Record("_mta-sts", "TXT", "v=STSv1; id=20261127"),
            Record("mta-sts", "A", sts_ip),
        ],
        "strict.test": [
            Record("@", "MX", "10 mx.peer.test."),
            Record("_mta-sts", "TXT", "v=STSv1; id=1"),
            Record("mta-sts", "A", sts_ip),
        ],
        "null.test": [Record("@", "MX", "0 ."), Record("@", "A", "127.0.0.99")],
        "far.test": [Record("@", "A", "127.0.0.98")],
        "elsewhere.test": [Record("mx", "A", "127.0.0.97")],
    }


@pytest.fixture(scope="session")
def knot(tmp_path_factory, dkim_keys, test_ca, postfix_cert, postfix_port, sts_server) -> Iterator[KnotServer]:  # type: ignore[no-untyped-def]
    rec = dane.tlsa_for_cert(test_ca.cert_der(postfix_cert[0]))
    tlsa = f"{rec.usage} {rec.selector} {rec.mtype} {rec.data.hex()}"
    sts_ip = sts_server if isinstance(sts_server, str) else STS_IPS[0]
    server = KnotServer(
        tmp_path_factory.mktemp("dns"), zones(dkim_keys, tlsa, postfix_port, sts_ip),
        signed=SIGNED,
    )
    try:
        server.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def validator(tmp_path_factory, knot) -> Iterator[DnsmasqValidator]:  # type: ignore[no-untyped-def]
    server = DnsmasqValidator(
        tmp_path_factory.mktemp("dnsmasq"), knot, {z: knot.ds(z) for z in SIGNED}
    )
    try:
        server.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def test_ca() -> Iterator[TestCA]:
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="rongmail-ca-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield TestCA(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix(postfix_cert: tuple[Path, Path], postfix_port: int) -> Iterator[PostfixServer]:
    crt, key = postfix_cert
    server = PostfixServer(
        address=POSTFIX_IP, port=postfix_port,
        domains=("peer.test", "strict.test", "far.test", "null.test", *SIGNED),
        users=("bob", "alice", "carol"), tls_cert=crt, tls_key=key,
        extra={"smtpd_tls_loglevel": "1"},
    )  # fmt: skip
    try:
        server.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sts_host(sts_server: str | BaseException) -> str:
    """The address of the HTTPS MTA-STS policy host (port 443; root is needed for it)."""
    if not isinstance(sts_server, str):
        skip_or_fail(f"cannot serve MTA-STS on {'/'.join(STS_IPS)}:443: {sts_server}")
    assert isinstance(sts_server, str)
    return sts_server


@pytest.fixture(scope="session")
def sts_server(test_ca: TestCA) -> Iterator[str | BaseException]:
    """HTTPS MTA-STS policy host on the first of ``STS_IPS`` whose port 443 is free (another
    test run on the machine may hold the first); its address, or why it could not start."""
    from aiohttp import web

    crt, key = test_ca.issue(["mta-sts.peer.test", "mta-sts.strict.test"])
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)

    async def policy(request: web.Request) -> web.Response:
        host = request.host.split(":")[0].removeprefix("mta-sts.")
        text = POLICIES.get(host)
        if text is None:
            return web.Response(status=404)
        return web.Response(text=text, content_type="text/plain")

    loop = asyncio.new_event_loop()
    started = threading.Event()
    errors: list[BaseException] = []
    runner_box: list[web.AppRunner] = []
    address: list[str] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/.well-known/mta-sts.txt", policy)
        runner = web.AppRunner(app)
        await runner.setup()
        for ip in STS_IPS:
            try:
                await web.TCPSite(runner, ip, 443, ssl_context=ctx).start()
            except OSError as e:
                if e.errno != errno.EADDRINUSE or ip == STS_IPS[-1]:
                    await runner.cleanup()
                    raise
            else:
                address.append(ip)
                runner_box.append(runner)
                return

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as e:  # port 443 needs root
            errors.append(e)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield (errors[0] if errors else address[0] if address
               else TimeoutError("the MTA-STS host did not start in 10 s"))
    finally:
        if runner_box:
            asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
