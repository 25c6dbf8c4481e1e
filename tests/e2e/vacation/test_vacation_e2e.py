"""The vacation auto-responder end to end on a real ``rongmail serve`` (RFC 8621 §8, RFC 3834):
the user turns on their VacationResponse through JMAP (webmail session), an external sender
mails them over SMTP and gets exactly one auto-reply queued (``MAIL FROM:<>``,
``Auto-Submitted: auto-replied``, ``In-Reply-To``), a second message from the same sender gets
none, and mailing-list mail gets none."""

from __future__ import annotations

import email
import json
import smtplib
import time
from email.policy import default
from pathlib import Path
from typing import Any

from e2e.conftest import RunningServer, free_port, run_server
from e2e.spam.test_spam_e2e import Browser, _wait_for
from rongmail.i18n import t

PASSWORD = "User-pass-2026-x"
USING = [
    "urn:ietf:params:jmap:core",
    "urn:ietf:params:jmap:mail",
    "urn:ietf:params:jmap:vacationresponse",
]


def _mail(sender: str, subject: str, msgid: str, extra: str = "") -> bytes:
    return (
        f"From: Partner <{sender}>\r\nTo: Li Na <user@corp.test>\r\nSubject: {subject}\r\n"
        f"Message-ID: {msgid}\r\nDate: Fri, 27 Nov 2026 09:00:00 +0000\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Could we meet on Tuesday to go over the contract?\r\n"
    ).encode()


def _replies(srv: RunningServer) -> list[dict[str, Any]]:
    rows = json.loads(srv.cli("queue", "list", "--json").stdout or "[]")
    return [r for r in rows if r["from"] == "<>"]


def _inbox_count(b: Browser, account: str) -> int:
    status, body = b.call(
        "POST",
        "/jmap/api",
        {
            "using": USING,
            "methodCalls": [["Mailbox/get", {"accountId": account, "ids": None}, "m"]],
        },
    )
    assert status == 200, body
    inbox = next(m for m in body["methodResponses"][0][1]["list"] if m["role"] == "inbox")
    return int(inbox["totalEmails"])


def _send(srv: RunningServer, *mails: tuple[str, bytes]) -> None:
    """Each (envelope sender, message) to user@corp.test over one real SMTP session."""
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=60) as s:
        s.ehlo("mx.partner.example")
        for sender, raw in mails:
            s.sendmail(sender, ["user@corp.test"], raw)


def test_vacation_reply_once_and_never_to_lists(tmp_path: Path) -> None:
    dns = {
        "RONGMAIL_QUEUE__DNS__NAMESERVERS": '["127.0.0.1"]',
        "RONGMAIL_QUEUE__DNS__PORT": str(free_port()),
        "RONGMAIL_QUEUE__DNS__TIMEOUT": "0.5",
    }
    with run_server(tmp_path, domain="corp.test", wait_for=("http", "smtp"), extra_env=dns) as srv:
        srv.add_user("user@corp.test", PASSWORD, "Li Na")
        b = Browser(srv.url("").rstrip("/"))
        b.login("user@corp.test", PASSWORD)
        _, me = b.call("GET", "/api/me")
        account = me["accountId"]
        status, body = b.call(
            "POST",
            "/jmap/api",
            {
                "using": USING,
                "methodCalls": [
                    [
                        "VacationResponse/set",
                        {
                            "accountId": account,
                            "update": {
                                "singleton": {
                                    "isEnabled": True,
                                    "fromDate": "2020-01-01T00:00:00Z",
                                    "toDate": "2099-01-01T00:00:00Z",
                                    "subject": None,
                                    "textBody": "I am on leave until Monday.",
                                    "htmlBody": "<p>I am on leave until <b>Monday</b>.<script>x()</script></p>",
                                }
                            },
                        },
                        "v",
                    ]
                ],
            },
        )
        assert status == 200, body
        assert body["methodResponses"][0][1]["updated"] == {"singleton": None}, body

        _send(
            srv,
            (
                "zhao@partner.example",
                _mail("zhao@partner.example", "Contract", "<c1@partner.example>"),
            ),
        )
        [reply] = _wait_for(lambda: _replies(srv))
        shown = json.loads(srv.cli("queue", "show", str(reply["id"]), "--headers").stdout)
        assert [r["rcpt"] for r in shown["recipients"]] == ["zhao@partner.example"]
        head = email.message_from_string(shown["headers"] + "\r\n\r\n", policy=default)
        assert head["Auto-Submitted"] == "auto-replied"
        assert head["In-Reply-To"] == "<c1@partner.example>"
        assert head["References"] == "<c1@partner.example>"
        # accounts default to zh-CN: the localized "Auto: <subject>" prefix
        assert head["Subject"] == t("vacation.reply.subject", "zh-CN", subject="Contract")
        assert head["From"].addresses[0].addr_spec == "user@corp.test"
        assert head.get_content_type() == "multipart/alternative"

        _send(
            srv,
            (
                "zhao@partner.example",
                _mail("zhao@partner.example", "Contract 2", "<c2@partner.example>"),
            ),
            (
                "news@lists.example",
                _mail(
                    "news@lists.example",
                    "Weekly digest",
                    "<n1@lists.example>",
                    "List-Id: Weekly <weekly.lists.example>\r\n",
                ),
            ),
        )
        assert _wait_for(lambda: _inbox_count(b, account) >= 3), (
            "the three mails were not delivered"
        )
        time.sleep(2.0)  # replies run in the background after delivery: give them time
        assert [r["id"] for r in _replies(srv)] == [reply["id"]]
        log = srv.log.read_text()
        assert "(mailing_list)" in log and "already replied" in log
