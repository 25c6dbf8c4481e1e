"""The ``Received:`` trace header (RFC 5321 §4.4) and its ``with`` protocol names.

Protocol names: ESMTP, ESMTPS (TLS), ESMTPA (authenticated), ESMTPSA from RFC 3848; the UTF8
variants from RFC 6531 §3.7.3; SMTP for HELO clients. The header is metadata handed to delivery
with the envelope; message blobs are never rewritten (DESIGN.md, inbound flow).
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

from rongmail.pipeline.envelope import Envelope

_UNSAFE = re.compile(r"[^\x21-\x7e]")


def with_protocol(env: Envelope) -> str:
    if not env.esmtp:
        return "SMTP"
    base = "UTF8SMTP" if env.smtputf8 else "ESMTP"
    suffix = ("S" if env.client.tls else "") + ("A" if env.auth else "")
    return base + suffix


def _clean(text: str, limit: int = 255) -> str:
    """Peer-supplied text is reduced to printable ASCII so it cannot fold or inject headers."""
    return _UNSAFE.sub("?", text)[:limit]


def received_header(env: Envelope, *, hostname: str, now: datetime) -> bytes:
    helo = _clean(env.helo or "unknown")
    ip = env.client.ip
    literal = f"IPv6:{ip}" if ":" in ip else ip
    parts = [f"Received: from {helo} ([{literal}])", f"\tby {hostname} (RongMail)"]
    if env.client.tls and env.client.tls_version:
        parts.append(
            f"\t(using {_clean(env.client.tls_version)} with cipher "
            f"{_clean(env.client.tls_cipher or 'unknown')})"
        )
    clause = f"\twith {with_protocol(env)} id {_clean(env.session_id)}"
    if len(env.rcpts) == 1:
        clause += f"\r\n\tfor <{_clean(env.rcpts[0].address)}>"
    parts.append(clause + ";")
    parts.append(f"\t{format_datetime(now)}")
    return ("\r\n".join(parts) + "\r\n").encode("ascii")
