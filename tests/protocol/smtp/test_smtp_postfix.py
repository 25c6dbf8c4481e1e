"""Postfix (Debian's, a real peer) relays mail to RongMail over loopback: ESMTP with
PIPELINING and opportunistic STARTTLS from a client we did not write (DESIGN.md rule 11).

A private Postfix instance is configured in a temporary directory (its own queue, listener on a
free 127.0.0.1 port, ``relayhost`` = the RongMail MX port) and stopped after the test. Marked
``peer``; skipped when Postfix is absent or the test is not run as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from smtp_fakes import MemoryDelivery, Starter

from peers import ports

pytestmark = pytest.mark.peer

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.peer.test
mydomain = peer.test
myorigin = peer.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
smtp_host_lookup = native
disable_dns_lookups = yes
syslog_name = rongmail-peer
"""


def free_port() -> int:
    return ports.free_port("127.0.0.1")


def postfix(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTFIX, "-c", str(conf), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
async def peer(smtp_server: Starter) -> AsyncIterator[tuple[int, MemoryDelivery]]:
    if not os.path.exists(POSTFIX) or not os.path.isdir("/usr/lib/postfix/sbin"):
        pytest.skip("Postfix is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        pytest.skip("a private Postfix instance needs root")
    server, delivery = await smtp_server()
    relay_port = server.addresses["smtp"][1]
    base = Path(tempfile.mkdtemp(prefix="rongmail-postfix-", dir="/tmp"))
    base.chmod(0o755)  # Postfix daemons run as the postfix user
    conf = base / "conf"
    conf.mkdir()
    (base / "queue").mkdir()
    (base / "data").mkdir()
    shutil.chown(base / "data", "postfix")
    listen = free_port()
    (conf / "main.cf").write_text(MAIN_CF.format(dir=base, relay_port=relay_port))
    master = Path("/etc/postfix/master.cf").read_text().splitlines()
    lines = [f"127.0.0.1:{listen} inet n - n - - smtpd"]
    for line in master:
        fields = line.split()
        if not line or line.startswith("#") or line[0].isspace() or len(fields) < 8:
            continue
        if fields[1] == "inet":
            continue
        fields[4] = "n"  # no chroot: the private queue lives outside /var/spool/postfix
        lines.append(" ".join(fields))
    (conf / "master.cf").write_text("\n".join(lines) + "\n")
    for step in (("check",), ("start",)):
        result = await asyncio.to_thread(postfix, conf, *step)
        assert result.returncode == 0, result.stderr
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        yield listen, delivery
    finally:
        await asyncio.to_thread(postfix, conf, "stop")
        shutil.rmtree(base, ignore_errors=True)


async def test_postfix_relays_to_rongmail(peer: tuple[int, MemoryDelivery]) -> None:
    port, delivery = peer
    body = (
        b"From: sender@peer.test\r\nTo: alice@example.com\r\nSubject: via postfix\r\n"
        b"Message-ID: <peer-1@peer.test>\r\n\r\nhello from postfix\r\n.leading dot\r\n"
    )

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port) as c:
            c.sendmail("sender@peer.test", ["alice@example.com", "bob@example.com"], body)

    await asyncio.to_thread(send)
    for _ in range(300):
        if delivery.delivered:
            break
        await asyncio.sleep(0.1)
    assert delivery.delivered, "Postfix did not relay the message to RongMail"
    env, _ = delivery.delivered[0]
    assert env.helo == "postfix.peer.test" and env.esmtp
    assert env.mail_from == "sender@peer.test"
    assert sorted(r.address for r in env.rcpts) == ["alice@example.com", "bob@example.com"]
    assert env.client.tls, "Postfix uses STARTTLS when offered"
    assert env.message is not None
    assert b"Subject: via postfix" in env.message and b"\r\n.leading dot\r\n" in env.message
