"""rspamd through the live server (issue 9): ``rongmail serve`` configured with
``spam.rspamd.url`` pointing at a real rspamd (Debian's, private config, see ``peers/rspamd.py``).

* The adapter against it: GTUBE is rspamd's ``reject`` action, mapped to ``RSPAMD_SPAM_HIGH``
  with rspamd's own ``GTUBE`` symbol kept in the detail; a plain business mail is
  ``RSPAMD_HAM``.
* Through the server over real SMTP: the GTUBE mail lands in Junk with the tag in its
  ``X-RongMail-Spam`` header, the plain one in INBOX; then rspamd goes away and, with the
  default ``scanner_failure = "accept"``, mail is still delivered, tagged
  ``SCANNER_UNAVAILABLE``.

One rspamd serves the whole module (it takes 20-50 s to start). Marked ``peer``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from e2e.conftest import free_port, run_server
from e2e.spam.mailbox import no_dns_env, send, spam_headers
from peers import PeerUnavailable, skip_or_fail
from peers.rspamd import Rspamd
from rongmail.services.spam import ScanContext
from rongmail.services.spam.rspamd import RspamdClient

pytestmark = pytest.mark.peer

PASSWORD = "User-pass-2026-x"
RCPT = "user@corp.test"
#: The Generic Test for Unsolicited Bulk Email (a public test string, like EICAR).
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rspamd]:
    peer = Rspamd(tmp_path_factory.mktemp("rspamd"))
    try:
        peer.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield peer
    finally:
        peer.stop()


def _mail(subject: str, body: str) -> bytes:
    m = EmailMessage()
    m["From"] = "Zhang Wei <zhang.wei@partner.example>"
    m["To"] = RCPT
    m["Subject"] = subject
    m["Date"] = "Fri, 27 Nov 2026 10:00:00 +0800"
    m["Message-ID"] = f"<{subject.replace(' ', '.')}@partner.example>"
    m.set_content(body)
    return m.as_bytes(policy=SMTP_POLICY)


def gtube() -> bytes:
    return _mail("gtube test", f"This is the GTUBE test string:\n\n{GTUBE}\n")


def plain(subject: str) -> bytes:
    return _mail(subject, "Hello Li Na,\n\nthe meeting moves to Thursday at three.\n\nZhang Wei\n")


async def test_adapter_maps_a_real_rspamd_verdict(rspamd: Rspamd) -> None:
    client = RspamdClient(rspamd.url, timeout=30.0, raise_errors=True)
    assert await client.available()
    ctx = ScanContext(client_ip="127.0.0.1", helo="mx.partner.example")
    spam = await client.tags(gtube(), ctx)
    assert [t.name for t in spam] == ["RSPAMD_SPAM_HIGH"], spam
    assert "GTUBE" in spam[0].detail, spam[0].detail
    ham = await client.tags(plain("adapter ham"), ctx)
    assert [t.name for t in ham] == ["RSPAMD_HAM"], ham


def _send(port: int, raw: bytes) -> int:
    return send(port, "zhang.wei@partner.example", RCPT, raw, helo="mx.partner.example")


def _wait_for(port: int, mailbox: str, subjects: set[str]) -> dict[str, str]:
    deadline = time.monotonic() + 20
    got: dict[str, str] = {}
    while time.monotonic() < deadline:
        got = spam_headers(port, RCPT, PASSWORD, mailbox)
        if subjects <= set(got):
            break
        time.sleep(0.3)
    return got


def test_rspamd_verdicts_through_the_live_server(rspamd: Rspamd, tmp_path: Path) -> None:
    env = {
        **no_dns_env(free_port()),
        "RONGMAIL_SPAM__RSPAMD__URL": rspamd.url,
        "RONGMAIL_SPAM__RSPAMD__TIMEOUT": "30",
        "RONGMAIL_SPAM__CLAMD__AUTO_DETECT": "false",
    }
    with run_server(tmp_path, domain="corp.test", wait_for=("smtp", "imap"), extra_env=env) as srv:
        srv.add_user(RCPT, PASSWORD, "Li Na")
        smtp, imap = srv.ports["smtp"], srv.ports["imap"]
        assert _send(smtp, gtube()) == 250
        assert _send(smtp, plain("ham while up")) == 250
        junk = _wait_for(imap, "Junk", {"gtube test"})
        inbox = _wait_for(imap, "INBOX", {"ham while up"})
        assert "RSPAMD_SPAM_HIGH(+7.0)" in junk.get("gtube test", ""), (junk, inbox)
        assert "gtube test" not in inbox, inbox
        assert "RSPAMD_HAM(-1.0)" in inbox["ham while up"], inbox
        assert "SCANNER_UNAVAILABLE" not in inbox["ham while up"]

        rspamd.stop()  # the scanner goes away: fail open, tagged
        assert _send(smtp, plain("ham while down")) == 250
        inbox = _wait_for(imap, "INBOX", {"ham while down"})
        assert "SCANNER_UNAVAILABLE(+0.0)" in inbox.get("ham while down", ""), inbox
        assert "RSPAMD_" not in inbox["ham while down"]
