"""Raw bytes to :class:`~rongmail.mime.model.ParsedMessage` for the filters.

The server parses each message once with :func:`rongmail.mime.parse.parse_message`; the filters
only ever read the resulting ``ParsedMessage``. This module is the bridge for callers that hold
raw bytes only (the evaluation bench, tests, re-scans): it uses ``parse_message`` when the MIME
package provides it and otherwise a small, forgiving standard-library fallback that fills the
fields the filters read (headers, subject, addresses, text/HTML bodies, attachments, a MIME tree
with byte offsets for leaf parts found by boundary scanning).

The fallback never raises on malformed input and decodes undeclared or mislabelled 8-bit text
as GB18030 (the common case for Chinese mail sent around 2005-2015, see the trec06c notes).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from rongmail.mime.model import Addr, Attachment, Envelope, MimePart, ParsedMessage

__all__ = ["parse", "decode_bytes", "html_to_text"]

_ParseFn = Callable[[bytes], ParsedMessage]


def _native_parser() -> _ParseFn | None:
    try:
        from rongmail.mime.parse import parse_message  # type: ignore[import-not-found]
    except ImportError:
        return None
    return parse_message  # type: ignore[no-any-return]


_NATIVE = _native_parser()

_TAG_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{0,2000}>", re.S | re.I)
_ENTITY_RE = re.compile(r"&(nbsp|amp|lt|gt|quot|#\d{1,6});", re.I)
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"'}
_WS_RE = re.compile(r"[ \t\r\f\v]+")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` with ``charset``; fall back to UTF-8, then GB18030, replacing errors."""
    if not data:
        return ""
    tried: list[str] = []
    cs = (charset or "").strip().strip('"').lower()
    if cs in ("gb2312", "gbk", "x-gbk", "euc-cn", "cp936", "x-euc-cn"):
        cs = "gb18030"
    for enc in (cs, "utf-8", "gb18030"):
        if not enc or enc in tried or enc in ("us-ascii", "ascii"):
            continue
        tried.append(enc)
        try:
            return data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    if data.isascii():
        return data.decode("ascii")
    return data.decode("gb18030", errors="replace")


def _entity(m: re.Match[str]) -> str:
    name = m.group(1).lower()
    if name.startswith("#"):
        try:
            return chr(int(name[1:]))
        except (ValueError, OverflowError):
            return " "
    return _ENTITIES.get(name, " ")


def html_to_text(html: str) -> str:
    """A fast, lossy HTML to text conversion (enough for classification, not for display)."""
    text = _TAG_RE.sub(" ", html)
    text = _ENTITY_RE.sub(_entity, text)
    return _WS_RE.sub(" ", text)


def _header_text(value: object) -> str:
    if value is None:
        return ""
    raw = str(value)
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # noqa: BLE001 - malformed encoded-words are common in spam
        return raw


def _addrs(msg: Message, name: str) -> list[Addr]:
    values = msg.get_all(name) or []
    out = []
    try:
        for display, addr in getaddresses([_header_text(v) for v in values]):
            out.append(Addr(display, addr))
    except Exception:  # noqa: BLE001
        return []
    return out


def _raw_header_str(v: object) -> str:
    if isinstance(v, str):
        # compat32 keeps undecoded 8-bit header bytes as surrogates; recover them as GB/UTF-8.
        try:
            return decode_bytes(v.encode("utf-8", "surrogateescape"), None)
        except UnicodeEncodeError:
            return v
    return str(v)


def _fallback_parse(raw: bytes) -> ParsedMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    headers = [(k, _header_text(_raw_header_str(v))) for k, v in msg.items()]
    end_hdr = raw.find(b"\n\n")
    header_size = end_hdr + 2 if end_hdr >= 0 else len(raw)
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    defects: list[str] = []
    root = MimePart(part_id="", type="text", subtype="plain")
    counter = [0]

    def visit(part: Message, node: MimePart, depth: int) -> None:
        ctype = part.get_content_type()
        node.type, _, node.subtype = ctype.partition("/")
        node.charset = part.get_content_charset()
        node.encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
        fname = part.get_filename()
        node.filename = _header_text(fname) if fname else None
        disp = part.get_content_disposition()
        node.disposition = disp
        if part.is_multipart() and depth < 20:
            payload = part.get_payload()
            if not payload and isinstance(part.preamble, str) and part.preamble.strip():
                # Declared multipart with no boundary lines: readers show the text.
                defects.append("no-boundary")
                texts.append(decode_bytes(part.preamble.encode("utf-8", "surrogateescape"), None))
            for i, sub in enumerate(payload if isinstance(payload, list) else []):
                child = MimePart(part_id=f"{node.part_id}.{i + 1}".lstrip("."), type="", subtype="")
                node.children.append(child)
                visit(sub, child, depth + 1)
            return
        try:
            data = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            data = None
        if not isinstance(data, bytes):
            data = b""
        node.size = len(data)
        counter[0] += 1
        is_attachment = disp == "attachment" or (fname is not None and node.type != "text")
        if node.type == "text" and not is_attachment:
            s = decode_bytes(data, node.charset)
            (htmls if node.subtype == "html" else texts).append(s)
        elif node.type != "multipart":
            attachments.append(
                Attachment(
                    part_id=node.part_id or "1",
                    filename=node.filename,
                    content_type=ctype,
                    size=len(data),
                    disposition=disp,
                    content_id=part.get("Content-ID"),
                    inline=disp == "inline",
                )
            )

    visit(msg, root, 0)
    html_body = "\n".join(htmls) if htmls else None
    text_body = "\n".join(texts)
    if not text_body.strip() and html_body:
        text_body = html_to_text(html_body)
    subject = _header_text(_raw_header_str(msg.get("Subject", "")))
    date = None
    try:
        d = msg.get("Date")
        date = parsedate_to_datetime(str(d)) if d else None
        if date is not None and date.tzinfo is None:
            date = None
    except (TypeError, ValueError, IndexError):
        date = None
    mid = msg.get("Message-ID")
    mid_s = str(mid).strip().strip("<>") if mid else None
    return ParsedMessage(
        size=len(raw),
        header_size=header_size,
        subject=subject,
        from_=_addrs(msg, "From"),
        sender=_addrs(msg, "Sender"),
        reply_to=_addrs(msg, "Reply-To"),
        to=_addrs(msg, "To"),
        cc=_addrs(msg, "Cc"),
        bcc=_addrs(msg, "Bcc"),
        date=date,
        message_id=mid_s,
        in_reply_to=[],
        references=[],
        text_body=text_body,
        html_body=html_body,
        preview=_WS_RE.sub(" ", text_body[:512]).strip()[:256],
        attachments=attachments,
        body=root,
        envelope=Envelope(subject=msg.get("Subject"), message_id=mid and str(mid)),
        headers=headers,
        defects=defects,
    )


def parse(raw: bytes) -> ParsedMessage:
    """Parse ``raw`` with the server's MIME parser, or the fallback when it is not available."""
    if _NATIVE is not None:
        return _NATIVE(raw)
    return _fallback_parse(raw)
