"""Building outgoing messages: submission fix-ups, simple composed mail and DSN/report bodies.

Role: the write side of the MIME layer, used by submission (RFC 6409), the webmail/JMAP
``EmailSubmission`` path and the queue's bounce generator.

Invariants of everything produced here:

* lines end in CRLF and are at most 998 octets (RFC 5322 §2.1.1); bodies are 7-bit: text is
  sent as-is when it is ASCII with short lines, otherwise as base64 of UTF-8 (compact for CJK);
* non-ASCII header text is RFC 2047 ``B`` encoded UTF-8 in encoded words of at most 75
  characters that never split a character (RFC 2047 §2, §5); file names use RFC 2231 §4;
* ``Date`` (RFC 5322 §3.6.1) and ``Message-ID`` (§3.6.4) are always present;
* boundaries are random and cannot occur in base64 or quoted-printable content.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from rongmail.mime.model import Addr

__all__ = [
    "OutgoingPart",
    "build_message",
    "build_report",
    "encode_header_text",
    "ensure_date_and_message_id",
    "format_address",
    "make_message_id",
]

_ATOM_SAFE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_FIELD_NAME = re.compile(rb"^(date|message-id)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class OutgoingPart:
    """An attachment or inline part of an outgoing message."""

    content_type: str  # "type/subtype", e.g. "application/pdf"
    data: bytes
    filename: str | None = None
    disposition: str = "attachment"  # or "inline"
    content_id: str | None = None  # without angle brackets


def make_message_id(domain: str) -> str:
    """A new, globally unique ``msg-id`` *with* angle brackets, ready for a header
    (RFC 5322 §3.6.4): time in base 36, 80 random bits, and ``domain`` (as an IDNA A-label)
    as the right side."""
    stamp = _base36(time.time_ns() // 1_000_000)
    rand = base64.b32encode(os.urandom(10)).decode("ascii").rstrip("=").lower()
    host = (domain or "").strip().strip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = ""
    return f"<{stamp}.{rand}@{host or 'localhost'}>"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def encode_header_text(text: str) -> str:
    """Encode unstructured header text (RFC 2047 §5 (1)). ASCII passes through unchanged."""
    if text.isascii():
        return text
    words: list[str] = []
    chunk = ""
    for ch in text:
        candidate = chunk + ch
        # "=?utf-8?B?" + base64 + "?=" <= 75  ->  at most 45 bytes of UTF-8 per word.
        if len(candidate.encode("utf-8")) > 45:
            words.append(_b_word(chunk))
            chunk = ch
        else:
            chunk = candidate
    if chunk:
        words.append(_b_word(chunk))
    return "\r\n ".join(words)


def _b_word(s: str) -> str:
    return "=?utf-8?B?" + base64.b64encode(s.encode("utf-8")).decode("ascii") + "?="


def format_address(addr: Addr) -> str:
    """``name <local@domain>`` with the display name quoted or RFC 2047 encoded as needed."""
    if not addr.name:
        return f"<{addr.email}>"
    if not addr.name.isascii():
        return f"{encode_header_text(addr.name)} <{addr.email}>"
    if _ATOM_SAFE.fullmatch(addr.name) and "  " not in addr.name:
        return f"{addr.name} <{addr.email}>"
    escaped = addr.name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{addr.email}>'


def _addr_list(addrs: Iterable[Addr]) -> str:
    return ",\r\n ".join(format_address(a) for a in addrs)


def _boundary() -> str:
    return "=_rm_" + os.urandom(12).hex()


def _b64_lines(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return _CRLF.join(enc[i : i + 76] for i in range(0, len(enc), 76)) + _CRLF


def _text_part(text: str, subtype: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if body.isascii() and all(len(line) <= 998 for line in body.split("\n")):
        payload = body.replace("\n", "\r\n").encode("ascii")
        if not payload.endswith(_CRLF):
            payload += _CRLF
        cte = "7bit"
        charset = "us-ascii"
    else:
        payload = _b64_lines(body.replace("\n", "\r\n").encode("utf-8"))
        cte = "base64"
        charset = "utf-8"
    head = (
        f"Content-Type: text/{subtype}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n"
    )
    return head.encode("ascii") + _CRLF + payload


def _param(name: str, value: str) -> str:
    """A MIME parameter; RFC 2231 §4 encoding when ``value`` is not plain ASCII."""
    if value.isascii() and '"' not in value and "\\" not in value:
        return f'{name}="{value}"'
    return f"{name}*=utf-8''{quote(value, safe='')}"


def _attachment(part: OutgoingPart) -> bytes:
    ctype = part.content_type.strip().lower() or "application/octet-stream"
    head = f"Content-Type: {ctype}"
    if part.filename:
        head += f"; {_param('name', part.filename)}"
    head += "\r\nContent-Transfer-Encoding: base64\r\n"
    disp = "inline" if part.disposition == "inline" else "attachment"
    head += f"Content-Disposition: {disp}"
    if part.filename:
        head += f"; {_param('filename', part.filename)}"
    head += "\r\n"
    if part.content_id:
        head += f"Content-ID: <{part.content_id}>\r\n"
    return head.encode("ascii") + _CRLF + _b64_lines(part.data)


def _multipart(subtype: str, parts: Sequence[bytes], extra_params: str = "") -> bytes:
    b = _boundary()
    out = [f'Content-Type: multipart/{subtype}; boundary="{b}"{extra_params}\r\n\r\n'.encode()]
    for p in parts:
        out.append(f"--{b}\r\n".encode())
        out.append(p)
    out.append(f"--{b}--\r\n".encode())
    return b"".join(out)


def _envelope_headers(
    *,
    from_: Addr,
    to: Sequence[Addr],
    cc: Sequence[Addr],
    subject: str,
    domain: str,
    date: datetime | None,
    message_id: str | None,
    reply_to: Addr | None,
    in_reply_to: str | None,
    references: Sequence[str],
    extra_headers: Sequence[tuple[str, str]],
) -> bytes:
    when = date or datetime.now(UTC)
    lines = [
        f"Date: {format_datetime(when)}",
        f"From: {format_address(from_)}",
    ]
    if to:
        lines.append(f"To: {_addr_list(to)}")
    if cc:
        lines.append(f"Cc: {_addr_list(cc)}")
    if reply_to is not None:
        lines.append(f"Reply-To: {format_address(reply_to)}")
    lines.append(f"Subject: {encode_header_text(subject)}")
    mid = message_id or make_message_id(domain)
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    lines.append(f"Message-ID: {mid}")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to.strip('<>')}>")
    if references:
        lines.append("References: " + "\r\n ".join(f"<{r.strip('<>')}>" for r in references))
    for name, value in extra_headers:
        lines.append(f"{name}: {encode_header_text(value)}")
    lines.append("MIME-Version: 1.0")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def build_message(
    *,
    from_: Addr,
    to: Sequence[Addr],
    subject: str,
    text: str,
    domain: str,
    html: str | None = None,
    cc: Sequence[Addr] = (),
    reply_to: Addr | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[OutgoingPart] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
    date: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    """Compose a message: text, optional HTML alternative (RFC 2046 §5.1.4), attachments
    (``multipart/mixed``). ``extra_headers`` values are unstructured text."""
    head = _envelope_headers(
        from_=from_, to=to, cc=cc, subject=subject, domain=domain, date=date,
        message_id=message_id, reply_to=reply_to, in_reply_to=in_reply_to,
        references=references, extra_headers=extra_headers,
    )  # fmt: skip
    body = _text_part(text, "plain")
    if html is not None:
        body = _multipart("alternative", [body, _text_part(html, "html")])
    if attachments:
        body = _multipart("mixed", [body, *(_attachment(a) for a in attachments)])
    return head + body


def build_report(
    *,
    from_: Addr,
    to: Sequence[Addr],
    subject: str,
    text: str,
    domain: str,
    report_type: str,
    report_content_type: str,
    report_body: bytes,
    original: bytes | None = None,
    headers_only: bool = True,
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """An RFC 6522 ``multipart/report``: human-readable text, the machine-readable part
    (``message/delivery-status`` per RFC 3464 §2 for DSNs, with ``report_body`` already in
    that format) and optionally the original message or just its header
    (``text/rfc822-headers``, RFC 6522 §4)."""
    head = _envelope_headers(
        from_=from_, to=to, cc=(), subject=subject, domain=domain, date=date,
        message_id=message_id, reply_to=None, in_reply_to=None, references=(),
        extra_headers=extra_headers,
    )  # fmt: skip
    machine = report_body.replace(b"\r\n", b"\n").replace(b"\n", _CRLF)
    if not machine.endswith(_CRLF):
        machine += _CRLF
    parts = [
        _text_part(text, "plain"),
        f"Content-Type: {report_content_type}\r\n\r\n".encode("ascii") + machine,
    ]
    if original is not None:
        if headers_only:
            end = _header_end(original)
            orig = original[:end].replace(b"\r\n", b"\n").replace(b"\n", _CRLF)
            parts.append(b"Content-Type: text/rfc822-headers\r\n\r\n" + orig)
        else:
            orig = original.replace(b"\r\n", b"\n").replace(b"\n", _CRLF)
            if not orig.endswith(_CRLF):
                orig += _CRLF
            cte = b"7bit" if orig.isascii() else b"8bit"
            parts.append(
                b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: " + cte
                + b"\r\n\r\n" + orig
            )  # fmt: skip
    return head + _multipart("report", parts, f"; report-type={report_type}")


def _header_end(raw: bytes) -> int:
    """Offset just past the blank line ending the header (or ``len(raw)``)."""
    m = re.search(rb"\r?\n\r?\n", raw)
    if m is None:
        return len(raw)
    if raw.startswith(b"\r\n") or raw.startswith(b"\n"):
        return 0
    return m.end()


def ensure_date_and_message_id(raw: bytes, *, domain: str, now: datetime | None = None) -> bytes:
    """Prepend ``Date`` and/or ``Message-ID`` when the header lacks them (RFC 6409 §8.3, §8.4).

    The rest of the message is left byte-for-byte unchanged (DKIM signatures made by the
    client stay valid). The added lines use the message's own line ending.
    """
    end = _header_end(raw)
    header = raw[:end]
    present = {m.group(1).lower() for m in _FIELD_NAME.finditer(header)}
    eol = _CRLF if b"\r\n" in header[:4096] or not header else b"\n"
    add = b""
    if b"date" not in present:
        when = now or datetime.now(UTC)
        add += b"Date: " + format_datetime(when).encode("ascii") + eol
    if b"message-id" not in present:
        add += b"Message-ID: " + make_message_id(domain).encode("ascii") + eol
    return add + raw if add else raw
