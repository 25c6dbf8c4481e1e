"""Delivery status notifications: bounces, delay notices and success reports (RFC 3464).

Role: build the ``multipart/report; report-type=delivery-status`` message (RFC 6522) that the
scheduler queues back to the original sender with a null reverse-path.

Invariants:

* A DSN is never generated for a message whose reverse-path is null (RFC 5321 §4.5.5,
  RFC 3461 §6.2): no bounce loops. Callers check :func:`wants_dsn` per recipient.
* ``NOTIFY=NEVER`` suppresses every report; without NOTIFY, failures and delays are reported
  and successes are not (RFC 3461 §4.1).
* The human-readable part is bilingual (the configured locale first) and comes from the message
  catalogue; the machine-readable part is ASCII ``message/delivery-status``, or
  ``message/global-delivery-status`` when an address is not ASCII (RFC 6533 §3).
* The returned original is the header section unless the sender asked ``RET=FULL`` for a
  failure (RFC 3461 §4.3); it is capped at :data:`MAX_RETURNED` octets.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formatdate

from rongmail.i18n import t

MAX_RETURNED = 256 * 1024


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    final_recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded (RFC 3464 §2.3.3)
    status: str  # RFC 3463 enhanced status, e.g. "5.1.1"
    original_recipient: str | None = None  # the ORCPT parameter as given (addr-type;xtext)
    remote_mta: str | None = None
    diagnostic: str | None = None  # the remote reply, e.g. "550 5.1.1 no such user"
    last_attempt: int | None = None
    will_retry_until: int | None = None


def wants_dsn(notify: str | None, action: str, mail_from: str) -> bool:
    """Whether RFC 3461 §4.1 asks for a report of ``action`` for this recipient."""
    if not mail_from:
        return False
    words = {w.strip().upper() for w in (notify or "").split(",") if w.strip()}
    if "NEVER" in words:
        return False
    wanted = {"failed": "FAILURE", "delayed": "DELAY", "delivered": "SUCCESS"}[action]
    if not words:
        return action in ("failed", "delayed")
    return wanted in words


def xtext_decode(value: str) -> str:
    """RFC 3461 §4: ``+XX`` is the octet with hex value XX; anything else stands for itself."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _date(ts: int) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC))


def _addr_field(name: str, address: str) -> str:
    kind = "rfc822" if address.isascii() else "utf-8"
    return f"{name}: {kind}; {address}"


def delivery_status(
    reporting_mta: str, envid: str | None, arrival: int, recipients: Sequence[DsnRecipient]
) -> str:
    """The ``message/delivery-status`` body (RFC 3464 §2.2 and §2.3), CRLF line ends."""
    lines = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid:
        lines.append(f"Original-Envelope-Id: {xtext_decode(envid)}")
    lines.append(f"Arrival-Date: {_date(arrival)}")
    for r in recipients:
        lines.append("")
        if r.original_recipient:
            kind, _, addr = r.original_recipient.partition(";")
            lines.append(
                f"Original-Recipient: {kind.strip().lower()}; {xtext_decode(addr.strip())}"
            )
        lines.append(_addr_field("Final-Recipient", r.final_recipient))
        lines.append(f"Action: {r.action}")
        lines.append(f"Status: {r.status}")
        if r.remote_mta:
            lines.append(f"Remote-MTA: dns; {r.remote_mta}")
        if r.diagnostic:
            diag = " ".join(r.diagnostic.split())[:900]
            lines.append(f"Diagnostic-Code: smtp; {diag}")
        if r.last_attempt:
            lines.append(f"Last-Attempt-Date: {_date(r.last_attempt)}")
        if r.will_retry_until:
            lines.append(f"Will-Retry-Until: {_date(r.will_retry_until)}")
    return "\r\n".join(lines) + "\r\n"


def _header_section(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[: end + 2]


def _human(kind: str, recipients: Sequence[DsnRecipient], locales: Sequence[str],
           hostname: str) -> str:  # fmt: skip
    parts = []
    for loc in locales:
        lines = [t(f"dsn.intro.{kind}", loc, hostname=hostname), ""]
        for r in recipients:
            lines.append(
                t("dsn.recipient", loc, rcpt=r.final_recipient,
                  reply=r.diagnostic or r.status)
            )  # fmt: skip
        lines += ["", t("dsn.signature", loc, hostname=hostname)]
        parts.append("\r\n".join(lines))
    return "\r\n\r\n----\r\n\r\n".join(parts) + "\r\n"


def build_dsn(
    *,
    kind: str,
    reporting_mta: str,
    to: str,
    original: bytes,
    arrival: int,
    recipients: Sequence[DsnRecipient],
    envid: str | None = None,
    ret_full: bool = False,
    locale: str = "zh-CN",
    now: int | None = None,
) -> bytes:
    """The complete DSN message. ``kind`` is ``failed``, ``delayed`` or ``delivered``; ``to``
    is the original reverse-path; ``original`` the original message as sent."""
    when = now if now is not None else int(time.time())
    locales = [locale, *(x for x in ("zh-CN", "en") if x != locale)]
    boundary = f"=_rongmail_dsn_{secrets.token_hex(12)}"
    subject = " / ".join(t(f"dsn.subject.{kind}", loc) for loc in locales)
    is_global = not all(r.final_recipient.isascii() for r in recipients) or not to.isascii()
    status_type = "message/global-delivery-status" if is_global else "message/delivery-status"
    human = base64.encodebytes(_human(kind, recipients, locales, reporting_mta).encode()).decode()
    status = delivery_status(reporting_mta, envid, arrival, recipients)
    if ret_full and kind == "failed":
        returned = original[:MAX_RETURNED]
        eight_bit = any(b > 127 for b in returned)
        returned_type = "message/global" if eight_bit and is_global else "message/rfc822"
    else:
        returned, returned_type = _header_section(original)[:MAX_RETURNED], "text/rfc822-headers"
    head = [
        f"From: {Header(t('dsn.from_name', locale), 'utf-8').encode()} <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{to}>",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {formatdate(when, localtime=False)}",
        f"Message-ID: <{when}.{secrets.token_hex(8)}@{reporting_mta}>",
        "Auto-Submitted: auto-replied",  # RFC 3834 §5
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    body = [
        "",
        "This is a MIME-encapsulated delivery status notification.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        human.replace("\n", "\r\n").rstrip("\r\n"),
        "",
        f"--{boundary}",
        f"Content-Type: {status_type}",
        "",
        status,
        f"--{boundary}",
        f"Content-Type: {returned_type}",
        "",
    ]
    text = "\r\n".join(head + body).encode("utf-8")
    if not returned.endswith(b"\r\n"):
        returned += b"\r\n"
    return text + returned + f"\r\n--{boundary}--\r\n".encode()
