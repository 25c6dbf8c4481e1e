"""Rendering Email objects (RFC 8621 §4.1) from stored metadata and, when body or header
properties are asked for, from the raw message.

* Metadata and convenience header properties (``from``, ``subject``, ``preview``...) come from the
  ``message`` row: no blob read for list views.
* ``bodyStructure``/``textBody``/``htmlBody``/``attachments`` come from the stored MIME tree
  (``bodystructure`` JSON, offsets into the raw bytes) with the selection algorithm of
  RFC 8621 §4.1.4; ``bodyValues``, ``headers`` and ``header:*`` need the raw bytes.
* Deviation (documented for clients): HTML ``bodyValues`` are sanitized server-side with
  ``mime.html.sanitize_html(allow_remote_images=False)`` (remote images become ``data-rm-src``);
  the untouched original stays downloadable as the part's blob.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rongmail.core.flags import jmap_keywords
from rongmail.core.models import Message
from rongmail.mime.encoded_words import decode_encoded_words
from rongmail.mime.headers import parse_addresses, parse_date, parse_msgids
from rongmail.mime.html import sanitize_html
from rongmail.mime.model import Addr, MimePart, ParsedMessage
from rongmail.mime.parse import part_text
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import INVALID_ARGUMENTS, MethodError

METADATA = ("id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt")
CONVENIENCE = ("messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
               "replyTo", "subject", "sentAt", "hasAttachment", "preview")
BODY = ("bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments")
PROPERTIES = (*METADATA, *CONVENIENCE, "headers", *BODY)
DEFAULT_PROPERTIES = (*METADATA, *CONVENIENCE, "bodyValues", "textBody", "htmlBody",
                      "attachments")
BODY_PROPERTIES = ("partId", "blobId", "size", "headers", "name", "type", "charset",
                   "disposition", "cid", "language", "location", "subParts")
DEFAULT_BODY_PROPERTIES = ("partId", "blobId", "size", "name", "type", "charset", "disposition",
                           "cid", "language", "location")
_INLINE_MEDIA = ("image", "audio", "video")


def utc_date(ts: int | None) -> str | None:
    """RFC 8620 §1.4 UTCDate."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def addresses(pairs: Sequence[tuple[str, str]] | Sequence[Addr]) -> list[dict[str, Any]] | None:
    out = []
    for p in pairs:
        name, email = (p.name, p.email) if isinstance(p, Addr) else p
        out.append({"name": name or None, "email": email})
    return out or None


@dataclass(frozen=True, slots=True)
class BodyOptions:
    body_properties: tuple[str, ...] = DEFAULT_BODY_PROPERTIES
    fetch_text: bool = False
    fetch_html: bool = False
    fetch_all: bool = False
    max_bytes: int = 0  # 0 = no limit


# -- RFC 8621 §4.1.4 body part selection ----------------------------------------------------------

def select_parts(root: MimePart) -> tuple[list[MimePart], list[MimePart], list[MimePart]]:
    """(textBody, htmlBody, attachments) following the algorithm of RFC 8621 §4.1.4."""
    text: list[MimePart] = []
    html: list[MimePart] = []
    attachments: list[MimePart] = []
    parts = root.children if root.type == "multipart" else [root]
    mtype = root.subtype if root.type == "multipart" else "mixed"
    _walk(parts, mtype, mtype == "alternative", html, text, attachments)
    return text, html, attachments


def _walk(parts: list[MimePart], multipart_type: str, in_alternative: bool,
          html: list[MimePart] | None, text: list[MimePart] | None,
          attachments: list[MimePart]) -> None:
    text_len = len(text) if text is not None else -1
    html_len = len(html) if html is not None else -1
    for i, p in enumerate(parts):
        is_media = p.type in _INLINE_MEDIA
        is_inline = (p.disposition != "attachment"
                     and (p.mime_type in ("text/plain", "text/html") or is_media)
                     and (i == 0 or (multipart_type != "related"
                                     and (is_media or not p.filename))))
        if p.type == "multipart":
            _walk(p.children, p.subtype, in_alternative or p.subtype == "alternative", html, text,
                  attachments)
        elif is_inline:
            if multipart_type == "alternative":
                if p.mime_type == "text/plain" and text is not None:
                    text.append(p)
                elif p.mime_type == "text/html" and html is not None:
                    html.append(p)
                else:
                    attachments.append(p)
                continue
            if in_alternative:
                if p.mime_type == "text/plain":
                    html = None
                if p.mime_type == "text/html":
                    text = None
            if text is not None:
                text.append(p)
            if html is not None:
                html.append(p)
            if (text is None or html is None) and is_media:
                attachments.append(p)
        else:
            attachments.append(p)
    if multipart_type == "alternative" and text is not None and html is not None:
        if text_len == len(text) and html_len != len(html):
            text.extend(html[html_len:])
        if html_len == len(html) and text_len != len(text):
            html.extend(text[text_len:])


# -- header access ----------------------------------------------------------------------------------

def raw_headers(raw: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, str]]:
    """Header fields of the entity at ``start`` as (name, raw value) in order (RFC 8621 §4.1.2:
    the value is everything after the colon, folding kept)."""
    stop = raw.find(b"\r\n\r\n", start, end)
    stop2 = raw.find(b"\n\n", start, end)
    cands = [x for x in (stop, stop2) if x >= 0]
    block = raw[start:min(cands) if cands else (end if end is not None else len(raw))]
    text = block.decode("utf-8", errors="replace")
    out: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + "\r\n" + line)
        elif ":" in line:
            name, _, value = line.partition(":")
            out.append((name.strip(), value))
    return out


def header_value(fields: list[tuple[str, str]], spec: str) -> Any:
    """``header:{name}[:as{Form}][:all]`` (RFC 8621 §4.1.2-§4.1.3)."""
    parts = spec.split(":")[1:]
    if not parts or not parts[0]:
        raise MethodError(INVALID_ARGUMENTS, f"bad property {spec}")
    name, form, want_all = parts[0].lower(), "Raw", False
    for p in parts[1:]:
        if p == "all":
            want_all = True
        elif p.startswith("as") and p[2:] in ("Raw", "Text", "Addresses", "GroupedAddresses",
                                               "MessageIds", "Date", "URLs"):
            form = p[2:]
        else:
            raise MethodError(INVALID_ARGUMENTS, f"bad property {spec}")
    values = [_form(v, form) for n, v in fields if n.lower() == name]
    if want_all:
        return values
    return values[-1] if values else None


def _form(value: str, form: str) -> Any:
    unfolded = value.replace("\r\n", "")
    if form == "Raw":
        return value
    if form == "Text":
        return decode_encoded_words(unfolded).strip()
    if form in ("Addresses", "GroupedAddresses"):
        addrs = addresses(parse_addresses(unfolded)) or []
        return addrs if form == "Addresses" else [{"name": None, "addresses": addrs}]
    if form == "MessageIds":
        return parse_msgids(unfolded) or None
    if form == "Date":
        d = parse_date(unfolded)
        return d.isoformat() if d else None
    urls = [u.strip().strip("<>") for u in unfolded.split(",") if u.strip()]
    return urls or None


# -- body parts -------------------------------------------------------------------------------------

def body_part(raw: bytes | None, p: MimePart, store_blob: str, props: Sequence[str]
              ) -> dict[str, Any]:
    is_multi = p.type == "multipart"
    full: dict[str, Any] = {}
    for prop in props:
        if prop == "partId":
            full[prop] = None if is_multi else p.part_id
        elif prop == "blobId":
            full[prop] = None if is_multi else ids.blob_id(store_blob, p.part_id)
        elif prop == "size":
            full[prop] = 0 if is_multi else p.size
        elif prop == "headers":
            full[prop] = ([{"name": n, "value": v} for n, v in raw_headers(raw, p.start,
                                                                             p.body_start)]
                          if raw is not None else [])
        elif prop == "name":
            full[prop] = p.filename
        elif prop == "type":
            full[prop] = p.mime_type
        elif prop == "charset":
            full[prop] = (p.params.get("charset") or ("us-ascii" if p.type == "text" else None))
        elif prop == "disposition":
            full[prop] = p.disposition
        elif prop == "cid":
            full[prop] = p.content_id
        elif prop == "language":
            full[prop] = p.language
        elif prop == "location":
            full[prop] = p.location
        elif prop == "subParts":
            full[prop] = ([body_part(raw, c, store_blob, props) for c in p.children]
                          if is_multi else None)
    return full


def body_value(raw: bytes, p: MimePart, max_bytes: int) -> dict[str, Any]:
    text = part_text(raw, p)
    if p.mime_type == "text/html":
        text = sanitize_html(text, allow_remote_images=False)
    truncated = False
    if max_bytes and len(text.encode()) > max_bytes:
        text = text.encode()[:max_bytes].decode("utf-8", errors="ignore")
        truncated = True
    return {"value": text, "isEncodingProblem": False, "isTruncated": truncated}


def body_properties(raw: bytes | None, root: MimePart, store_blob: str, props: Sequence[str],
                    opts: BodyOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    text, html, atts = select_parts(root)
    bp = opts.body_properties
    if "bodyStructure" in props:
        out["bodyStructure"] = body_part(raw, root, store_blob, bp)
    if "textBody" in props:
        out["textBody"] = [body_part(raw, p, store_blob, bp) for p in text]
    if "htmlBody" in props:
        out["htmlBody"] = [body_part(raw, p, store_blob, bp) for p in html]
    if "attachments" in props:
        out["attachments"] = [body_part(raw, p, store_blob, bp) for p in atts]
    if "bodyValues" in props:
        values: dict[str, Any] = {}
        if raw is not None:
            chosen: list[MimePart] = []
            if opts.fetch_all:
                chosen = [p for p in root.walk() if p.type == "text"]
            else:
                if opts.fetch_text:
                    chosen += text
                if opts.fetch_html:
                    chosen += html
            for p in chosen:
                if p.type == "text" and p.part_id not in values:
                    values[p.part_id] = body_value(raw, p, opts.max_bytes)
        out["bodyValues"] = values
    return out


# -- whole emails ------------------------------------------------------------------------------------

_KEYWORDS_CACHE: dict[tuple[int, frozenset[str]], dict[str, bool]] = {}


def _keywords(m: Message) -> dict[str, bool]:
    """``keywords`` of a message; the few distinct (flags, keywords) pairs are memoized."""
    key = (m.flags, m.keywords)
    got = _KEYWORDS_CACHE.get(key)
    if got is None:
        if len(_KEYWORDS_CACHE) > 4096:
            _KEYWORDS_CACHE.clear()
        got = _KEYWORDS_CACHE[key] = jmap_keywords(m.flags, m.keywords)
    return dict(got)


def _addr_list(pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]] | None:
    return [{"name": n or None, "email": e} for n, e in pairs] or None


#: Email/get properties computed from the stored row alone (no raw message), by name.
_ROW_GETTERS: dict[str, Callable[[Message], Any]] = {
    "id": lambda m: f"{ids.EMAIL}{m.id}",
    "blobId": lambda m: ids.blob_id(m.blob_id),
    "threadId": lambda m: f"{ids.THREAD}{m.thread_id}",
    "mailboxIds": lambda m: {f"{ids.MAILBOX}{b}": True for b in m.mailbox_ids},
    "keywords": _keywords,
    "size": lambda m: m.size,
    "receivedAt": lambda m: utc_date(m.received_at),
    "messageId": lambda m: [m.msgid] if m.msgid else None,
    "inReplyTo": lambda m: list(m.in_reply_to) or None,
    "references": lambda m: list(m.references) or None,
    "sender": lambda m: _addr_list(m.sender),
    "from": lambda m: _addr_list(m.from_),
    "to": lambda m: _addr_list(m.to),
    "cc": lambda m: _addr_list(m.cc),
    "bcc": lambda m: _addr_list(m.bcc),
    "replyTo": lambda m: _addr_list(m.reply_to),
    "subject": lambda m: m.subject,
    "sentAt": lambda m: utc_date(m.sent_at),
    "hasAttachment": lambda m: m.has_attachment,
    "preview": lambda m: m.preview,
}


def row_renderer(props: Sequence[str]) -> Callable[[Message], dict[str, Any]] | None:
    """A fast renderer when every property comes from the stored row (list views), else
    None. Resolve the getters once per request, not once per email."""
    if not all(p in _ROW_GETTERS for p in props):
        return None
    getters = [(p, _ROW_GETTERS[p]) for p in props]
    return lambda m: {p: g(m) for p, g in getters}


def email_from_message(m: Message, props: Sequence[str], raw: bytes | None,
                       opts: BodyOptions) -> dict[str, Any]:
    """Email object for a stored message (Email/get)."""
    out: dict[str, Any] = {}
    fields: list[tuple[str, str]] | None = None
    body_props: list[str] = []
    for p in props:
        getter = _ROW_GETTERS.get(p)
        if getter is not None:
            out[p] = getter(m)
            continue
        if p in BODY:
            body_props.append(p)
            continue
        if fields is None:
            fields = raw_headers(raw, 0, m.header_size or None) if raw is not None else []
        if p == "headers":
            out[p] = [{"name": n, "value": v} for n, v in fields]
        elif p.startswith("header:"):
            out[p] = header_value(fields, p)
    if body_props:
        root = MimePart.from_json(m.bodystructure())
        out.update(body_properties(raw, root, m.blob_id, body_props, opts))
    return out


def email_from_parsed(parsed: ParsedMessage, raw: bytes, store_blob: str,
                      props: Sequence[str], opts: BodyOptions) -> dict[str, Any]:
    """Email object for a blob that is not stored as an email (Email/parse, RFC 8621 §4.9):
    ``id``, ``mailboxIds``, ``keywords``, ``receivedAt`` and ``threadId`` are null."""
    out: dict[str, Any] = {}
    fields = raw_headers(raw, 0, parsed.header_size or None)
    for p in props:
        if p in ("id", "threadId", "mailboxIds", "keywords", "receivedAt"):
            out[p] = None
        elif p == "blobId":
            out[p] = ids.blob_id(store_blob)
        elif p == "size":
            out[p] = parsed.size
        elif p == "messageId":
            out[p] = [parsed.message_id] if parsed.message_id else None
        elif p == "inReplyTo":
            out[p] = parsed.in_reply_to or None
        elif p == "references":
            out[p] = parsed.references or None
        elif p in ("sender", "from", "to", "cc", "bcc", "replyTo"):
            attr = {"from": "from_", "replyTo": "reply_to"}.get(p, p)
            out[p] = addresses(getattr(parsed, attr))
        elif p == "subject":
            out[p] = parsed.subject
        elif p == "sentAt":
            out[p] = parsed.date.isoformat() if parsed.date else None
        elif p == "hasAttachment":
            out[p] = parsed.has_attachment
        elif p == "preview":
            out[p] = parsed.preview
        elif p == "headers":
            out[p] = [{"name": n, "value": v} for n, v in fields]
        elif p.startswith("header:"):
            out[p] = header_value(fields, p)
    body_props = [p for p in props if p in BODY]
    if body_props:
        out.update(body_properties(raw, parsed.body, store_blob, body_props, opts))
    return out
