"""The live inbound spam stage configured through ``[spam]`` on a real ``rongmail serve``
(issue 9): DNSBL and URIBL zones served by a real Knot DNS on loopback, and first-contact
detection for payment-change requests.

* A client connecting from 127.0.0.2 (listed in ``bl.test``, weight 6 from the config) lands
  in Junk with ``RBL_LISTED(+6.0)`` in ``X-RongMail-Spam``; a message from 127.0.0.3 linking a
  domain listed in ``uribl.test`` carries ``URIBL_LISTED(+4.0)``; a clean one neither. The
  server log explains each verdict with the evidence (``127.0.0.2 in bl.test``).
* A user writes to ``finance@partner-vendor.example`` through the submission port; a later
  "our bank account changed" mail from that partner is only ``PAYMENT_CHANGE_REQUEST``, the
  same text from a never-seen address is ``PAYMENT_CHANGE_FIRST_TIME`` and is held in
  quarantine.

Marked ``peer`` (Knot DNS from Debian).
"""

from __future__ import annotations

import imaplib
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from e2e.conftest import run_server
from peers import PeerUnavailable
from peers.dns_server import KnotServer, Record

pytestmark = pytest.mark.peer

PASSWORD = "User-pass-2026-x"
PAYMENT = (
    "Dear customer, please note our bank account has changed. Please update the bank "
    "details in your records and remit the outstanding invoice to our new account:\n"
    "Bank: Example Bank, account 6222 0000 1111 2222.\nRegards, Finance"
)


def _mail(sender: str, to: str, subject: str, body: str) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Tue, 03 Mar 2026 10:00:00 +0800"
    m["Message-ID"] = f"<{abs(hash((sender, subject)))}@{sender.partition('@')[2]}>"
    m.set_content(body)
    return m.as_bytes(policy=SMTP_POLICY)


def _send_from(ip: str, port: int, sender: str, to: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60, source_address=(ip, 0)) as s:
        s.ehlo("mx.sender.example")
        s.sendmail(sender, [to], raw)


def _headers(port: int, user: str) -> dict[str, str]:
    """Subject -> X-RongMail-Spam of every message in INBOX and the \\Junk mailbox
    (``[junk] ...`` for the latter)."""
    m = imaplib.IMAP4("127.0.0.1", port)
    m.starttls(ssl._create_unverified_context())
    m.login(user, PASSWORD)
    out: dict[str, str] = {}
    try:
        _, boxes = m.list()
        junk = next(
            re.search(rb'"([^"]+)"$|(\S+)$', b).group(0).strip(b'"').decode()
            for b in boxes
            if b and rb"\Junk" in b
        )
        for box, prefix in (("INBOX", ""), (junk, "[junk] ")):
            m.select(f'"{box}"', readonly=True)
            _, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-RONGMAIL-SPAM)])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                text = item[1].decode().replace("\r\n ", " ").replace("\r\n\t", " ")
                subj = re.search(r"^Subject: (.*)$", text, re.M | re.I)
                spam = re.search(r"^X-RongMail-Spam: (.*)$", text, re.M | re.I)
                if subj:
                    out[prefix + subj[1].strip()] = spam[1].strip() if spam else ""
    finally:
        m.logout()
    return out


def _wait_headers(port: int, user: str, want: int, timeout: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        got = _headers(port, user)
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


@pytest.fixture
def knot(tmp_path: Path):  # type: ignore[no-untyped-def]
    zones = {
        # RFC 5782 §2.1: 127.0.0.2 reversed; 127.0.0.3 is not listed
        "bl.test": [
            Record("2.0.0.127", "A", "127.0.0.2"),
            Record("2.0.0.127", "TXT", "listed for tests"),
        ],
        "uribl.test": [Record("spam-link.example", "A", "127.0.0.2")],
    }
    try:
        with KnotServer(tmp_path, zones) as dns:
            yield dns
    except PeerUnavailable as e:
        pytest.skip(str(e))


def test_dnsbl_uribl_and_first_contact_live(tmp_path: Path, knot: KnotServer) -> None:
    env = {
        # every DNS question (mail authentication and blocklists) goes to the local Knot
        "RONGMAIL_QUEUE__DNS__NAMESERVERS": f'["{knot.address}"]',
        "RONGMAIL_QUEUE__DNS__PORT": str(knot.port),
        "RONGMAIL_QUEUE__DNS__TIMEOUT": "1.0",
        "RONGMAIL_SPAM__DNSBL": '[{zone = "bl.test", weight = 6.0}]',
        "RONGMAIL_SPAM__URIBL": '[{zone = "uribl.test"}]',
        "RONGMAIL_SPAM__CLAMD__AUTO_DETECT": "false",
        "RONGMAIL_SPAM__RSPAMD__AUTO_DETECT": "false",
    }
    with run_server(
        tmp_path, domain="corp.test", wait_for=("smtp", "submission", "imap"), extra_env=env
    ) as srv:
        srv.add_user("user@corp.test", PASSWORD, "Li Na")
        smtp = srv.ports["smtp"]
        rcpt = "user@corp.test"
        _send_from(
            "127.0.0.2",
            smtp,
            "news@listed-sender.example",
            rcpt,
            _mail(
                "news@listed-sender.example",
                rcpt,
                "from a listed ip",
                "Hello, a short note about our meeting on Friday.",
            ),
        )
        _send_from(
            "127.0.0.3",
            smtp,
            "promo@link-sender.example",
            rcpt,
            _mail(
                "promo@link-sender.example",
                rcpt,
                "with a listed link",
                "See http://www.spam-link.example/offer for details.",
            ),
        )
        _send_from(
            "127.0.0.3",
            smtp,
            "friend@clean-sender.example",
            rcpt,
            _mail(
                "friend@clean-sender.example",
                rcpt,
                "clean",
                "See https://python.org/ for the agenda of Friday.",
            ),
        )

        # the user corresponds with a partner first (queued to the outside; delivery fails
        # here, what matters is that the tenant wrote to this address)
        with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=60) as s:
            s.starttls(context=ssl._create_unverified_context())
            s.login(rcpt, PASSWORD)
            s.sendmail(
                rcpt,
                ["finance@partner-vendor.example"],
                _mail(
                    rcpt, "finance@partner-vendor.example", "order 17", "Please confirm order 17."
                ),
            )
        _send_from(
            "127.0.0.3",
            smtp,
            "finance@partner-vendor.example",
            rcpt,
            _mail("finance@partner-vendor.example", rcpt, "known partner", PAYMENT),
        )
        _send_from(
            "127.0.0.3",
            smtp,
            "finance@new-vendor.example",
            rcpt,
            _mail("finance@new-vendor.example", rcpt, "first contact", PAYMENT),
        )

        got = _wait_headers(srv.ports["imap"], rcpt, want=4)
        log = srv.log.read_text(errors="replace")

    listed = got["[junk] from a listed ip"]
    assert listed.startswith("junk;") and "RBL_LISTED(+6.0)" in listed, got
    assert "URIBL_LISTED" not in listed
    link = next(v for k, v in got.items() if k.endswith("with a listed link"))
    assert "URIBL_LISTED(+4.0)" in link and "RBL_LISTED" not in link.replace("URIBL", ""), got
    clean = got["clean"]
    assert "RBL_LISTED" not in clean and "URIBL_LISTED" not in clean, got
    # the explanation (server log) names the evidence for each listing
    assert "RBL_LISTED(127.0.0.2 in bl.test)+6.0" in log
    assert "URIBL_LISTED(spam-link.example in uribl.test)+4.0" in log

    partner = next(v for k, v in got.items() if k.endswith("known partner"))
    assert "PAYMENT_CHANGE_REQUEST(" in partner and "FIRST_TIME" not in partner, got
    # the first-time sender's request is held, not delivered, and explained
    assert not any(k.endswith("first contact") for k in got), got
    assert re.search(
        r"spam verdict session=\S+ quarantine score=[0-9.]+: .*"
        r"PAYMENT_CHANGE_FIRST_TIME",
        log,
    ), log[-3000:]
