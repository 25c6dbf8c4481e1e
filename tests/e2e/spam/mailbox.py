"""Shared by the live spam tests: send over SMTP, read the verdict header back over IMAP."""

from __future__ import annotations

import imaplib
import smtplib
import ssl


def spam_headers(port: int, user: str, password: str, mailbox: str = "INBOX") -> dict[str, str]:
    """Subject -> ``X-RongMail-Spam`` of every message in ``mailbox`` (empty if it is missing)."""
    m = imaplib.IMAP4("127.0.0.1", port)
    m.starttls(ssl._create_unverified_context())
    m.login(user, password)
    out: dict[str, str] = {}
    try:
        typ, _ = m.select(mailbox, readonly=True)
        if typ != "OK":
            return out
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-RONGMAIL-SPAM)])")
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple):
                fields = dict(
                    line.split(": ", 1)
                    for line in item[1].decode().replace("\r\n ", " ").split("\r\n")
                    if ": " in line
                )
                out[fields.get("Subject", "")] = fields.get("X-RongMail-Spam", "")
    finally:
        m.logout()
    return out


def send(port: int, sender: str, rcpt: str, raw: bytes, *, helo: str) -> int:
    """Send ``raw`` over SMTP; the reply code after DATA (250, or the refusal's code)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo(helo)
        try:
            s.sendmail(sender, [rcpt], raw)
        except smtplib.SMTPDataError as e:
            return e.smtp_code
        return 250


def no_dns_env(free_port: int) -> dict[str, str]:
    """Server environment whose resolver asks a closed loopback port and gives up fast (the
    live spam tests need no DNS: mail authentication then finds nothing)."""
    return {
        "RONGMAIL_QUEUE__DNS__NAMESERVERS": '["127.0.0.1"]',
        "RONGMAIL_QUEUE__DNS__PORT": str(free_port),
        "RONGMAIL_QUEUE__DNS__TIMEOUT": "0.5",
    }
