"""Outbound abuse on a real ``rongmail serve`` (issue 9: "a compromised account suddenly sending
bursts or spam is held and the admin alerted"), over real SMTP submission with AUTH.

``[spam.outbound]`` is configured through the environment with small limits: 3 messages a
minute and 5 recipients an hour. One account sends a burst: the 4th message gets 451 and the
tenant admin receives an alert mail. Another account sends to 6 recipients at once: the
message is accepted (250) but held in the quarantine (direction outbound), not queued, and the
admin is alerted again; the admin sees the held message through ``/api/quarantine``.
"""

from __future__ import annotations

import imaplib
import smtplib
import ssl
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from e2e.conftest import free_port, run_server
from e2e.spam.test_spam_e2e import Browser

PASSWORD = "User-pass-2026-x"


def _mail(sender: str, rcpts: list[str], subject: str) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = ", ".join(rcpts)
    m["Subject"] = subject
    m["Message-ID"] = f"<{subject.replace(' ', '.')}@corp.test>"
    m.set_content("Quarterly figures attached in the shared folder, as discussed.")
    return m.as_bytes(policy=SMTP_POLICY)


def _submit(port: int, user: str, rcpts: list[str], subject: str) -> tuple[int, bytes]:
    """(code, reply) of DATA for one submission."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.login(user, PASSWORD)
        try:
            s.sendmail(user, rcpts, _mail(user, rcpts, subject))
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error
        return 250, b""


def _alert_subjects(port: int, user: str, password: str) -> list[str]:
    m = imaplib.IMAP4("127.0.0.1", port)
    m.starttls(ssl._create_unverified_context())
    m.login(user, password)
    try:
        m.select("INBOX", readonly=True)
        _, data = m.fetch("1:*", "(BODY.PEEK[HEADER])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                msg = message_from_bytes(item[1])
                out.append(str(make_header(decode_header(msg["Subject"] or ""))))
        return out
    except imaplib.IMAP4.error:
        return []
    finally:
        m.logout()


def test_burst_refused_volume_held_admin_alerted(tmp_path: Path) -> None:
    env = {
        "RONGMAIL_QUEUE__DNS__NAMESERVERS": '["127.0.0.1"]',
        "RONGMAIL_QUEUE__DNS__PORT": str(free_port()),
        "RONGMAIL_QUEUE__DNS__TIMEOUT": "0.5",
        "RONGMAIL_SPAM__OUTBOUND__BURST_PER_MINUTE": "3",
        "RONGMAIL_SPAM__OUTBOUND__HOURLY_FLOOR": "5",
        "RONGMAIL_SPAM__CLAMD__AUTO_DETECT": "false",
        "RONGMAIL_SPAM__RSPAMD__AUTO_DETECT": "false",
    }
    with run_server(
        tmp_path, domain="corp.test", wait_for=("submission", "imap", "http"), extra_env=env
    ) as srv:
        srv.add_user("burst@corp.test", PASSWORD, "Zhao Lei")
        srv.add_user("bulk@corp.test", PASSWORD, "Sun Li")
        port = srv.ports["submission"]
        replies = [
            _submit(port, "burst@corp.test", ["a@remote.example"], f"burst {i}") for i in range(4)
        ]
        assert [c for c, _ in replies[:3]] == [250, 250, 250], replies
        assert replies[3][0] == 451, replies

        rcpts = [f"r{i}@remote.example" for i in range(6)]
        assert _submit(port, "bulk@corp.test", rcpts, "bulk mail")[0] == 250

        queued = srv.cli("queue", "list").stdout
        assert "bulk@corp.test" not in queued  # held, not queued
        assert queued.count("burst@corp.test") == 3, queued

        deadline = time.monotonic() + 20
        subjects: list[str] = []
        while time.monotonic() < deadline:
            subjects = _alert_subjects(srv.ports["imap"], srv.admin, srv.password)
            if sum("@corp.test" in s for s in subjects) >= 2:
                break
            time.sleep(0.3)
        assert any("burst@corp.test" in s for s in subjects), subjects
        assert any("bulk@corp.test" in s for s in subjects), subjects

        b = Browser(srv.url("").rstrip("/"))
        b.login(srv.admin, srv.password)
        status, body = b.call("GET", "/api/quarantine?scope=tenant&direction=outbound")
        assert status == 200, body
        [held] = body["items"]
        assert held["direction"] == "outbound" and held["subject"] == "bulk mail"
        assert sorted(held["rcpts"]) == sorted(rcpts)
