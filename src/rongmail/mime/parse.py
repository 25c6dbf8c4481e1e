"""Structural MIME parser: raw bytes -> :class:`~rongmail.mime.model.ParsedMessage`.

Role: the one place where stored mail is parsed (at delivery, APPEND and import); everything
IMAP, JMAP, search and the pipeline need is computed here once and kept as JSON.

How it works. The parser walks the raw bytes and never copies bodies: every node of the MIME tree
records ``start`` (first header byte), ``body_start`` and ``end`` so that IMAP ``BODY[n]``,
``BODY[n.MIME]`` and ``BODY[n.HEADER]`` are plain slices of the stored blob (RFC 3501 §6.4.5,
RFC 9051 §6.4.5). Header fields are unfolded per RFC 5322 §2.2.3; multipart bodies are split on
delimiter lines per RFC 2046 §5.1.1, where the line break *before* a delimiter belongs to the
delimiter; ``message/rfc822`` bodies are parsed recursively (RFC 2046 §5.2.1).

Section numbering (RFC 3501 §6.4.5): a multipart node carries the section of the message that
contains it (``""`` at top level, ``"3"`` for the message in part 3) and its children are
``"1"``, ``"2"``... (or ``"3.1"``...); a non-multipart message root is ``"1"`` (or ``"3.1"``).

Tolerances (each recorded in ``ParsedMessage.defects``):

* ``no-boundary``: a ``multipart/*`` whose body holds no delimiter line at all is shown as
  ``text/plain`` (a third of the trec06c Chinese corpus looks like this; mainstream readers
  show the text rather than dropping it as preamble).
* ``unindented-continuation``: a header line without a field name that continues an
  unterminated RFC 2047 encoded word (long GB subjects cut by old mailers).
* ``missing-header-separator``, ``missing-close-boundary``, ``multipart-without-boundary``,
  ``bad-content-type``, ``bad-disposition`` (not a token: ignored), ``encoded-message-part``
  (a base64/QP ``message/rfc822``), ``mbox-from-line``.
* The tree is the *effective* structure: a multipart shown as text is ``text/plain``; a
  multipart or ``message/rfc822`` not descended into (limits, encoded message) is an opaque
  ``application/octet-stream`` leaf, so every multipart node has children and every
  message node has exactly one.
* A ``base64`` body that is mostly 8-bit non-base64 bytes is raw text mislabelled by the
  sender and is used as is.
* Limits: ``header-limit`` (more than :data:`MAX_HEADER_BYTES` bytes or
  :data:`MAX_HEADER_FIELDS` fields per header block: the excess is skipped, not parsed),
  ``depth-limit`` (:data:`MAX_DEPTH` nested entities), ``part-limit`` (:data:`MAX_PARTS`),
  ``text-truncated`` (a text part over :data:`MAX_TEXT_BYTES` is decoded only in part).

Body selection follows RFC 8621 §4.1.4 (``textBody``/``htmlBody``/``attachments``);
``text_body`` joins the text parts (``format=flowed`` unflowed per RFC 3676, HTML parts
converted to text), ``html_body`` the HTML parts.

Invariants: :func:`parse_message` never raises on any ``bytes`` input and does work linear in
the input size times the (bounded) nesting depth.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import replace
from typing import NamedTuple

from rongmail.mime.charsets import decode_8bit, decode_text
from rongmail.mime.encoded_words import (
    b64decode_lenient,
    decode_header,
    parse_params,
)
from rongmail.mime.headers import parse_addresses, parse_date, parse_msgids
from rongmail.mime.html import html_to_text
from rongmail.mime.model import (
    Attachment,
    Envelope,
    MimePart,
    ParsedMessage,
)
from rongmail.mime.snippet import make_preview

__all__ = [
    "INLINE_PARSE_MAX",
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_FIELDS",
    "MAX_PARTS",
    "MAX_TEXT_BYTES",
    "decode_transfer",
    "parse_message",
    "part_text",
    "unflow",
    "with_prepended_header",
]

MAX_HEADER_BYTES = 1 << 20
MAX_HEADER_FIELDS = 10_000
MAX_DEPTH = 50
MAX_PARTS = 2_000
MAX_TEXT_BYTES = 4 << 20
#: Messages up to this size are cheap enough to parse (and scan, and index) on the event loop
#: itself: ~0.2 ms for 5 KB, a few ms at the limit. The work is pure Python and holds the GIL,
#: so a worker thread would only add a hand-off (~0.1 ms of CPU) without running in parallel;
#: larger messages still go to a thread so the loop keeps answering other sessions.
INLINE_PARSE_MAX = 64 * 1024

_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_OPEN_EW = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*$")
_EW_TAIL = re.compile(rb"[A-Za-z0-9+/=]*\?=[ \t]*$")
_MIME_TYPE = re.compile(r"[a-z0-9!#$&.+^_`{}~-]+/[a-z0-9!#$&.+^_`{}~*-]+")
_TOKEN = re.compile(r"[a-z0-9!#$%&'*+.^_`{|}~-]+")  # RFC 2045 §5.1 token
_INLINE_MEDIA = ("image", "audio", "video")
_ENCAPSULATING = frozenset({("message", "rfc822"), ("message", "global"), ("message", "news")})
_ENVELOPE_FIELDS = {
    "date": "date",
    "subject": "subject",
    "from": "from_",
    "sender": "sender",
    "reply-to": "reply_to",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "in-reply-to": "in_reply_to",
    "message-id": "message_id",
}

Fields = list[tuple[str, bytes]]


class _Ctx:
    __slots__ = ("defects", "parts", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.defects: list[str] = []
        self.parts = 0

    def defect(self, name: str) -> None:
        if name not in self.defects:
            self.defects.append(name)


# ---------------------------------------------------------------------------------------------
# Headers


def _parse_header(ctx: _Ctx, start: int, end: int) -> tuple[Fields, int]:
    """Parse the header block at ``start``; return unfolded ``(name, raw value)`` fields and the
    offset of the body (just after the blank line, or ``end``)."""
    raw = ctx.raw
    fields: Fields = []
    name: str | None = None
    cur: list[bytes] = []
    stored = 0
    pos = start

    def flush() -> None:
        nonlocal name, stored
        if name is not None:
            value = b"".join(cur)
            stored += len(value)
            if stored > MAX_HEADER_BYTES or len(fields) >= MAX_HEADER_FIELDS:
                ctx.defect("header-limit")
            else:
                fields.append((name, value.strip()))
        name = None
        cur.clear()

    while pos < end:
        nl = raw.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        content = raw[pos:line_end].rstrip(b"\r\n")
        if not content:
            flush()
            return fields, line_end
        first = content[0]
        if first == 0x20 or first == 0x09:
            if name is not None:
                cur.append(content)
        else:
            m = _FIELD.match(content)
            if m is not None:
                flush()
                name = m.group(1).decode("ascii")
                cur.append(content[m.end() :])
            elif name is not None and (
                _OPEN_EW.search(cur[-1]) is not None or _EW_TAIL.match(content) is not None
            ):
                ctx.defect("unindented-continuation")
                cur.append(content)
            elif pos == start and content.startswith(b"From "):
                ctx.defect("mbox-from-line")
            else:
                ctx.defect("missing-header-separator")
                flush()
                return fields, pos
        pos = line_end
    flush()
    return fields, end


def _first(fields: Fields, names: frozenset[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for n, v in fields:
        low = n.lower()
        if low in names and low not in out:
            out[low] = v
    return out


_CONTENT_FIELDS = frozenset(
    {
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
        "content-description",
        "content-language",
        "content-location",
        "content-md5",
    }
)


# ---------------------------------------------------------------------------------------------
# Body structure


class _Delim(NamedTuple):
    line_start: int  # offset of "--boundary"
    after: int  # offset just past the delimiter line
    close: bool


def _find_delimiters(raw: bytes, start: int, end: int, boundary: bytes) -> list[_Delim]:
    """Delimiter lines of ``boundary`` in ``raw[start:end]`` (RFC 2046 §5.1.1), up to the close."""
    marker = b"--" + boundary
    out: list[_Delim] = []
    pos = start
    while True:
        i = raw.find(marker, pos, end)
        if i < 0:
            return out
        j = i + len(marker)
        if i == start or raw[i - 1] == 0x0A:
            close = raw.startswith(b"--", j, end)
            if close:
                j += 2
            nl = raw.find(b"\n", j, end)
            line_end = end if nl < 0 else nl + 1
            if close or not raw[j:line_end].strip():
                out.append(_Delim(i, line_end, close))
                if close:
                    return out
                pos = line_end
                continue
        pos = j


def _line_break_before(raw: bytes, start: int, i: int) -> int:
    """Offset where the line break preceding offset ``i`` starts (never below ``start``)."""
    if i > start and raw[i - 1] == 0x0A:
        i -= 1
        if i > start and raw[i - 1] == 0x0D:
            i -= 1
    return i


def _lines(raw: bytes, start: int, end: int) -> int:
    if end <= start:
        return 0
    n = raw.count(b"\n", start, end)
    return n if raw[end - 1] == 0x0A else n + 1


def _child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _parse_entity(
    ctx: _Ctx,
    start: int,
    end: int,
    part_id: str,
    *,
    is_root: bool,
    depth: int,
    default_type: tuple[str, str],
) -> tuple[MimePart, Fields]:
    """Parse one entity occupying ``raw[start:end]``.

    For a message root, ``part_id`` is the section of the containing message.
    """
    raw = ctx.raw
    ctx.parts += 1
    fields, body_start = _parse_header(ctx, start, end)
    h = _first(fields, _CONTENT_FIELDS)

    ctype, subtype = default_type
    params: dict[str, str] = {}
    if "content-type" in h:
        main, params = parse_params(decode_8bit(h["content-type"]))
        if _MIME_TYPE.fullmatch(main):
            ctype, _, subtype = main.partition("/")
        elif main == "text":
            ctype, subtype = "text", "plain"
        else:
            ctx.defect("bad-content-type")
            ctype, subtype = "text", "plain"
            params = {k: v for k, v in params.items() if k == "charset"}

    encoding = "7bit"
    if "content-transfer-encoding" in h:
        encoding = decode_8bit(h["content-transfer-encoding"]).strip().strip('"').lower() or "7bit"

    disposition: str | None = None
    disposition_params: dict[str, str] = {}
    if "content-disposition" in h:
        disp, disposition_params = parse_params(decode_8bit(h["content-disposition"]))
        if disp in ("inline", "attachment"):
            disposition = disp
        elif _TOKEN.fullmatch(disp):
            # RFC 2183 §2.8: an unrecognised disposition type is treated as "attachment".
            disposition = "attachment"
        elif disp:
            ctx.defect("bad-disposition")

    children: list[MimePart] = []
    envelope: Envelope | None = None
    delims: list[_Delim] = []

    if ctype == "multipart":
        boundary = params.get("boundary", "")
        if not boundary:
            ctx.defect("multipart-without-boundary")
        elif depth >= MAX_DEPTH:
            ctx.defect("depth-limit")
        else:
            delims = _find_delimiters(raw, body_start, end, boundary.encode("utf-8", "replace"))
            if not delims or delims[0].close:
                # No part starts: the whole body is text (at most followed by a close line).
                delims = []
                ctx.defect("no-boundary")
        if not delims and depth < MAX_DEPTH:
            # Show the body as text (see the module docstring); keep only the charset.
            ctype, subtype = "text", "plain"
            params = {k: v for k, v in params.items() if k == "charset"}

    if is_root:
        if ctype == "multipart":
            own_id = part_id
        else:
            own_id = _child_id(part_id, 1)
    else:
        own_id = part_id

    if ctype == "multipart" and depth < MAX_DEPTH and delims:
        child_default = ("message", "rfc822") if subtype == "digest" else ("text", "plain")
        opened = [d for d in delims if not d.close]
        if not delims[-1].close:
            ctx.defect("missing-close-boundary")
        for k, d in enumerate(opened):
            if ctx.parts >= MAX_PARTS:
                ctx.defect("part-limit")
                break
            nxt = delims[k + 1].line_start if k + 1 < len(delims) else end
            part_end = _line_break_before(raw, d.after, nxt) if k + 1 < len(delims) else end
            child, _ = _parse_entity(
                ctx,
                d.after,
                max(part_end, d.after),
                _child_id(own_id, k + 1),
                is_root=False,
                depth=depth + 1,
                default_type=child_default,
            )
            children.append(child)
    elif (ctype, subtype) in _ENCAPSULATING:
        if encoding in ("base64", "quoted-printable"):
            ctx.defect("encoded-message-part")
        elif depth >= MAX_DEPTH or ctx.parts >= MAX_PARTS:
            ctx.defect("depth-limit" if depth >= MAX_DEPTH else "part-limit")
        else:
            child, child_fields = _parse_entity(
                ctx,
                body_start,
                end,
                own_id,
                is_root=True,
                depth=depth + 1,
                default_type=("text", "plain"),
            )
            children.append(child)
            envelope = _envelope(child_fields)

    if not children and (ctype == "multipart" or (ctype, subtype) in _ENCAPSULATING):
        # Not descended into (limits, or an encoded message/rfc822): present it as an opaque
        # leaf so every multipart has parts and every message/rfc822 has a body (RFC 3501 §7.4.2
        # BODYSTRUCTURE cannot express anything else).
        ctype, subtype = "application", "octet-stream"

    filename = disposition_params.get("filename") or params.get("name")
    content_id = None
    if "content-id" in h:
        content_id = decode_8bit(h["content-id"]).strip().strip("<>").strip() or None
    language = None
    if "content-language" in h:
        language = [x.strip() for x in decode_8bit(h["content-language"]).split(",") if x.strip()]
    part = MimePart(
        part_id=own_id,
        type=ctype,
        subtype=subtype,
        params=params,
        disposition=disposition,
        disposition_params=disposition_params,
        content_id=content_id,
        description=decode_header(h["content-description"]) if "content-description" in h else None,
        encoding=encoding,
        language=language or None,
        location=decode_8bit(h["content-location"]).strip() if "content-location" in h else None,
        md5=decode_8bit(h["content-md5"]).strip() if "content-md5" in h else None,
        charset=params.get("charset"),
        filename=filename or None,
        start=start,
        body_start=body_start,
        end=end,
        size=end - body_start,
        lines=_lines(raw, body_start, end),
        children=children,
        envelope=envelope,
    )
    return part, fields


# ---------------------------------------------------------------------------------------------
# Content decoding


_B64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n"


def _not_base64(data: bytes) -> bool:
    junk = len(data.translate(None, _B64_TEXT))
    return junk > 16 and junk * 20 > len(data)


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 §6), tolerating garbage. Never raises."""
    if encoding == "base64":
        if not data.isascii() and _not_base64(data):
            # Raw 8-bit text mislabelled as base64 (common in 2005-era Chinese spam).
            return data
        return b64decode_lenient(data)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    return data


def part_text(raw: bytes, part: MimePart, defects: list[str] | None = None) -> str:
    """Decode a text leaf to ``str``; sets ``part.charset`` to the codec actually used."""
    end = part.end
    if end - part.body_start > MAX_TEXT_BYTES:
        end = part.body_start + MAX_TEXT_BYTES
        if defects is not None and "text-truncated" not in defects:
            defects.append("text-truncated")
    data = decode_transfer(raw[part.body_start : end], part.encoding)
    text, used = decode_text(data, part.params.get("charset"))
    part.charset = used
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def unflow(text: str, *, delsp: bool) -> str:
    """Join the soft line breaks of ``format=flowed`` text (RFC 3676 §4.1-4.3).

    A line ending in a space continues on the next line with the same quote depth; space
    stuffing (§4.4) is undone; the signature separator ``-- `` is never joined.
    """
    out: list[str] = []
    para: list[str] = []
    para_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]
        if para and depth != para_depth:
            out.append(">" * para_depth + ("" if para_depth == 0 else " ") + "".join(para))
            para = []
        para_depth = depth
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        para.append(body)
        if not soft:
            out.append(">" * depth + (" " if depth else "") + "".join(para))
            para = []
    if para:
        out.append(">" * para_depth + (" " if para_depth > 0 else "") + "".join(para))
    return "\n".join(out)


def _decoded_size(part: MimePart, raw: bytes) -> int:
    """Decoded size: exact for well-formed base64 (white space and padding discounted)."""
    if part.encoding != "base64":
        return part.size
    ws = raw.count(b"\n", part.body_start, part.end) + raw.count(b"\r", part.body_start, part.end)
    tail = raw[max(part.body_start, part.end - 8) : part.end].rstrip()
    pad = len(tail) - len(tail.rstrip(b"="))
    return max(0, (part.size - ws) * 3 // 4 - pad)


# ---------------------------------------------------------------------------------------------
# Body selection: RFC 8621 §4.1.4 (textBody / htmlBody / attachments)


def _is_inline_media(p: MimePart) -> bool:
    return p.type in _INLINE_MEDIA


def _select(
    parts: list[MimePart],
    multipart_type: str,
    in_alternative: bool,
    html: list[MimePart] | None,
    text: list[MimePart] | None,
    attachments: list[MimePart],
) -> None:
    text_len = len(text) if text is not None else -1
    html_len = len(html) if html is not None else -1
    for i, p in enumerate(parts):
        mime = p.mime_type
        is_inline = (
            p.disposition != "attachment"
            and (mime in ("text/plain", "text/html") or _is_inline_media(p))
            and (
                i == 0 or (multipart_type != "related" and (_is_inline_media(p) or not p.filename))
            )
        )
        if p.type == "multipart":
            _select(
                p.children,
                p.subtype,
                in_alternative or p.subtype == "alternative",
                html,
                text,
                attachments,
            )
        elif is_inline:
            if multipart_type == "alternative":
                if mime == "text/plain" and text is not None:
                    text.append(p)
                elif mime == "text/html" and html is not None:
                    html.append(p)
                else:
                    attachments.append(p)
                continue
            if in_alternative:
                if mime == "text/plain":
                    html = None
                if mime == "text/html":
                    text = None
            if text is not None:
                text.append(p)
            if html is not None:
                html.append(p)
            if (text is None or html is None) and _is_inline_media(p):
                attachments.append(p)
        else:
            attachments.append(p)
    if multipart_type == "alternative" and text is not None and html is not None:
        if text_len == len(text) and html_len != len(html):
            text.extend(html[html_len:])
        if html_len == len(html) and text_len != len(text):
            html.extend(text[text_len:])


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------
# Header helpers


def _envelope(fields: Fields) -> Envelope:
    env = Envelope()
    seen: set[str] = set()
    for n, v in fields:
        attr = _ENVELOPE_FIELDS.get(n.lower())
        if attr is not None and attr not in seen:
            seen.add(attr)
            setattr(env, attr, decode_8bit(v).strip())
    return env


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw`` into a :class:`ParsedMessage`. Never raises on any input."""
    ctx = _Ctx(bytes(raw))
    try:
        return _parse(ctx)
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose mail; record it instead
        ctx.defect(f"parser-error:{type(exc).__name__}")
        return _fallback(ctx)


def _fallback(ctx: _Ctx) -> ParsedMessage:
    raw = ctx.raw
    root = MimePart(part_id="1", type="text", subtype="plain", end=len(raw), size=len(raw))
    return ParsedMessage(
        size=len(raw), header_size=0, subject="", from_=[], sender=[], reply_to=[], to=[], cc=[],
        bcc=[], date=None, message_id=None, in_reply_to=[], references=[], text_body="",
        html_body=None, preview="", attachments=[], body=root, envelope=Envelope(), headers=[],
        defects=ctx.defects,
    )  # fmt: skip


def _parse(ctx: _Ctx) -> ParsedMessage:
    raw = ctx.raw
    root, fields = _parse_entity(
        ctx, 0, len(raw), "", is_root=True, depth=0, default_type=("text", "plain")
    )
    env = _envelope(fields)
    headers = [(n, decode_header(v)) for n, v in fields]
    subject = ""
    for n, v in headers:
        if n.lower() == "subject":
            subject = v
            break

    text_parts: list[MimePart] = []
    html_parts: list[MimePart] = []
    attach_parts: list[MimePart] = []
    if root.type == "multipart":
        _select(root.children, root.subtype, root.subtype == "alternative",
                html_parts, text_parts, attach_parts)  # fmt: skip
    else:
        _select([root], "mixed", False, html_parts, text_parts, attach_parts)

    decoded: dict[str, str] = {}

    def text_of(p: MimePart) -> str:
        t = decoded.get(p.part_id)
        if t is None:
            t = part_text(raw, p, ctx.defects)
            decoded[p.part_id] = t
        return t

    text_chunks: list[str] = []
    for p in text_parts:
        if p.mime_type == "text/plain":
            t = text_of(p)
            if p.params.get("format", "").lower() == "flowed":
                t = unflow(t, delsp=p.params.get("delsp", "").lower() == "yes")
            text_chunks.append(t)
        elif p.mime_type == "text/html":
            text_chunks.append(html_to_text(text_of(p)))
    html_body: str | None = None
    if any(p.mime_type == "text/html" for p in html_parts):
        html_chunks: list[str] = []
        for p in html_parts:
            if p.mime_type == "text/html":
                html_chunks.append(text_of(p))
            elif p.mime_type == "text/plain":
                html_chunks.append(f'<pre style="white-space:pre-wrap">{_escape(text_of(p))}</pre>')
        html_body = "\n".join(html_chunks)
    text_body = "\n".join(c for c in text_chunks if c)

    attachments = [
        Attachment(
            part_id=p.part_id,
            filename=p.filename,
            content_type=p.mime_type,
            size=_decoded_size(p, raw),
            disposition=p.disposition,
            content_id=p.content_id,
            inline=p.disposition == "inline"
            or (p.disposition is None and p.content_id is not None and _is_inline_media(p)),
        )
        for p in attach_parts
    ]

    return ParsedMessage(
        size=len(raw),
        header_size=root.body_start,
        subject=subject,
        from_=parse_addresses(env.from_),
        sender=parse_addresses(env.sender),
        reply_to=parse_addresses(env.reply_to),
        to=parse_addresses(env.to),
        cc=parse_addresses(env.cc),
        bcc=parse_addresses(env.bcc),
        date=parse_date(env.date),
        message_id=next(iter(parse_msgids(env.message_id)), None),
        in_reply_to=parse_msgids(env.in_reply_to),
        references=parse_msgids(_header_raw(fields, "references")),
        text_body=text_body,
        html_body=html_body,
        preview=make_preview(text_body),
        attachments=attachments,
        body=root,
        envelope=env,
        headers=headers,
        defects=ctx.defects,
    )


#: Header fields the parser interprets (the first occurrence counts): a prepended block that
#: named one of them would change the parse, so :func:`with_prepended_header` declines it.
_INTERPRETED = frozenset(_ENVELOPE_FIELDS) | _CONTENT_FIELDS | {"references"}


def with_prepended_header(parsed: ParsedMessage, raw: bytes, block: bytes) -> ParsedMessage | None:
    """``parse_message(block + raw)`` derived from ``parsed = parse_message(raw)`` without
    parsing ``raw`` again, or ``None`` when equality is not assured (then parse the whole).

    ``block`` is header fields a receiving server puts in front of a message (``Received``,
    ``Authentication-Results``...), CRLF-terminated. Prepending them shifts every offset by
    ``len(block)`` and adds their fields in front of ``headers``; nothing else changes as long
    as: ``raw`` parsed without any defect and starts with a header field or the blank line
    (a leading continuation line or an mbox ``From`` line would join or break the block), the
    block itself is clean ASCII header fields the parser does not interpret (no Subject,
    Content-Type...), and together they stay within :data:`MAX_HEADER_FIELDS` and
    :data:`MAX_HEADER_BYTES`. ``tests/unit/mime/test_prepended_header.py`` compares the result
    with a full parse."""
    n = len(block)
    if parsed.defects or parsed.size != len(raw):
        return None
    if not block.isascii() or not block.endswith(b"\r\n"):
        return None
    if not (raw.startswith(b"\r\n") or _FIELD.match(raw)):
        return None
    # Only the block's header section matters (a full parse of ``block + CRLF`` would add an
    # empty text/plain body and its MIME part, neither of which reaches the result), so it is
    # read with the same header parser and decoded the same way ``_parse`` decodes headers.
    ctx = _Ctx(block + b"\r\n")
    try:
        fields, body_start = _parse_header(ctx, 0, len(ctx.raw))
    except Exception:  # noqa: BLE001 - parse_message would fall back: decline instead
        return None
    if ctx.defects or body_start != n + 2 or not fields:
        return None
    if any(name.lower() in _INTERPRETED for name, _ in fields):
        return None
    if (
        len(fields) + len(parsed.headers) > MAX_HEADER_FIELDS
        or parsed.header_size + n > MAX_HEADER_BYTES
    ):
        return None
    return replace(
        parsed,
        size=parsed.size + n,
        header_size=parsed.header_size + n,
        headers=[(name, decode_header(v)) for name, v in fields] + parsed.headers,
        body=_shifted(parsed.body, n, top=True),
        attachments=[replace(a) for a in parsed.attachments],
        defects=[],
    )


def _shifted(part: MimePart, n: int, *, top: bool = False) -> MimePart:
    """A copy of the tree under ``part`` with offsets ``n`` bytes later (the message itself
    still starts at 0)."""
    return replace(
        part,
        start=part.start if top else part.start + n,
        body_start=part.body_start + n,
        end=part.end + n,
        children=[_shifted(c, n) for c in part.children],
    )


def _header_raw(fields: Fields, name: str) -> str | None:
    for n, v in fields:
        if n.lower() == name:
            return decode_8bit(v)
    return None
