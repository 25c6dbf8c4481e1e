"""FETCH data of one message: ENVELOPE, BODYSTRUCTURE, BODY[section], BINARY (RFC 9051 §7.5.2,
RFC 3516).

Role: pure functions from the stored parse results (``Message.envelope()`` raw header values,
the ``MimePart`` tree with byte offsets) and the raw bytes to :mod:`.proto.response` values.
Nothing here re-parses MIME; sections are slices of the raw message at the stored offsets.

Invariants: section numbering follows RFC 9051 §6.4.5: the body of a single-part message is
part ``1``; a ``message/rfc822`` part's children are numbered within the encapsulated message;
``HEADER``/``TEXT`` after a part number apply to an encapsulated message only. An unknown part
yields ``None`` (rendered ``NIL``), never an error, as servers commonly do.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import Any

from rongmail.mime.model import MimePart
from rongmail.mime.parse import decode_transfer

from .proto.fetch import Section
from .proto.response import string

__all__ = ["binary_bytes", "body_structure", "envelope", "envelope_bytes", "find_part", "partial",
           "section_bytes"]  # fmt: skip


# -- ENVELOPE (RFC 9051 §7.5.2) ----------------------------------------------------------------
# The common shapes of one address-list element, matched without ``email.utils``: an addr-spec
# of dot-atoms (RFC 5322 §3.4.1) alone, or behind a display name of plain words (no quotes,
# comments, groups or escapes). For these, ``getaddresses`` returns the words joined by one
# space and the addr-spec as written; anything else takes ``getaddresses`` itself
# (tests/unit/imap/test_envelope_fast.py compares the two).
_WORD = r"[^\x00-\x20()<>@,;:\\\"\[\]\x7f]+"
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABELS = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_SIMPLE = re.compile(
    rf"[ \t]*(?:((?:{_WORD}[ \t]+)*{_WORD})?[ \t]*<({_DOT_ATOM})@({_LABELS})>"
    rf"|({_DOT_ATOM})@({_LABELS}))[ \t]*"
)
_FWS = re.compile(r"[ \t]+")


def _simple_addresses(raw: str) -> list[tuple[str, str, str]] | None:
    """(display name, local part, domain) of each element when every element has a simple
    shape; ``None`` otherwise."""
    out: list[tuple[str, str, str]] = []
    for part in raw.split(","):
        m = _SIMPLE.fullmatch(part)
        if m is None:
            return None
        name, local, host, bare_local, bare_host = m.groups()
        if local is None:
            out.append(("", bare_local, bare_host))
        else:
            out.append((_FWS.sub(" ", name) if name else "", local, host))
    return out


def _addresses(raw: str | None) -> list[list[Any]] | None:
    """``address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"``."""
    if not raw:
        return None
    simple = _simple_addresses(raw)
    if simple is not None:
        return [[name or None, None, local, host] for name, local, host in simple]
    out: list[list[Any]] = []
    for name, email in getaddresses([raw]):
        if not email and not name:
            continue
        local, at, host = email.rpartition("@")
        if not at:
            local, host = email, ""
        out.append([name or None, None, local or None, host or None])
    return out or None


def envelope(env: dict[str, Any]) -> list[Any]:
    """``(date subject from sender reply-to to cc bcc in-reply-to message-id)``.

    RFC 9051 §7.5.2: empty sender/reply-to default to ``from``.
    """
    from_ = _addresses(env.get("from_"))
    return [
        env.get("date"),
        env.get("subject"),
        from_,
        _addresses(env.get("sender")) or from_,
        _addresses(env.get("reply_to")) or from_,
        _addresses(env.get("to")),
        _addresses(env.get("cc")),
        _addresses(env.get("bcc")),
        env.get("in_reply_to"),
        env.get("message_id"),
    ]


def _nstring(value: str | None, utf8: bool) -> bytes:
    return b"NIL" if value is None else string(value, utf8=utf8)


def _address_list(addresses: list[list[Any]] | None, utf8: bool) -> bytes:
    if addresses is None:
        return b"NIL"
    return b"(" + b" ".join([
        b"(%b NIL %b %b)" % (_nstring(name, utf8), _nstring(local, utf8), _nstring(host, utf8))
        for name, _adl, local, host in addresses
    ]) + b")"  # fmt: skip


def envelope_bytes(env: dict[str, Any], *, utf8: bool) -> bytes:
    """The wire form of :func:`envelope` (the bytes ``response.render`` makes of it), built
    directly: a client's first ``FETCH 1:* (ENVELOPE)`` renders every message of the mailbox."""
    from_ = _addresses(env.get("from_"))
    f = _address_list(from_, utf8)
    sender = _addresses(env.get("sender"))
    reply_to = _addresses(env.get("reply_to"))
    return b"(%b %b %b %b %b %b %b %b %b %b)" % (
        _nstring(env.get("date"), utf8),
        _nstring(env.get("subject"), utf8),
        f,
        f if sender is None else _address_list(sender, utf8),
        f if reply_to is None else _address_list(reply_to, utf8),
        _address_list(_addresses(env.get("to")), utf8),
        _address_list(_addresses(env.get("cc")), utf8),
        _address_list(_addresses(env.get("bcc")), utf8),
        _nstring(env.get("in_reply_to"), utf8),
        _nstring(env.get("message_id"), utf8),
    )


# -- BODYSTRUCTURE -----------------------------------------------------------------------------
def _params(params: dict[str, str]) -> list[str] | None:
    if not params:
        return None
    out: list[str] = []
    for k, v in params.items():
        out.extend((k.upper(), v))
    return out


def _disposition(part: MimePart) -> list[Any] | None:
    if not part.disposition:
        return None
    return [part.disposition.upper(), _params(part.disposition_params)]


def body_structure(part: MimePart, *, extensible: bool = True) -> list[Any]:
    """``body`` (RFC 9051 §9): BODYSTRUCTURE when ``extensible``, else the BODY form."""
    if part.type == "multipart":
        out: list[Any] = [body_structure(c, extensible=extensible) for c in part.children]
        if not out:  # a multipart without parts: describe it as an empty text part
            out = [["TEXT", "PLAIN", None, None, None, "7BIT", 0, 0]]
        out.append(part.subtype.upper())
        if extensible:
            out.extend([_params(part.params), _disposition(part), part.language, part.location])
        return out
    out = [
        part.type.upper(),
        part.subtype.upper(),
        _params(part.params),
        part.content_id,
        part.description,
        part.encoding.upper(),
        part.size,
    ]
    if part.type == "message" and part.subtype in ("rfc822", "global") and part.children:
        inner = part.children[0]
        out.append(envelope(part.envelope.to_json()) if part.envelope else envelope({}))
        out.append(body_structure(inner, extensible=extensible))
        out.append(part.lines)
    elif part.type == "text":
        out.append(part.lines)
    if extensible:
        out.extend([part.md5, _disposition(part), part.language, part.location])
    return out


# -- sections ----------------------------------------------------------------------------------
def _is_message(part: MimePart) -> bool:
    return part.type == "message" and part.subtype in ("rfc822", "global") and bool(part.children)


def find_part(root: MimePart, path: tuple[int, ...]) -> MimePart | None:
    """The part at ``path`` (``(2, 1)`` for ``2.1``); ``root`` for ``()``."""
    node = root
    at_root = True  # node is the top of a message, whose single-part body is part 1
    for n in path:
        if _is_message(node) and not at_root:
            node, at_root = node.children[0], True
        if node.type == "multipart":
            if not 1 <= n <= len(node.children):
                return None
            node, at_root = node.children[n - 1], False
        elif at_root and n == 1:
            at_root = False
        else:
            return None
    return node


def _header_fields(header: bytes, names: tuple[str, ...], *, exclude: bool) -> bytes:
    """Select header fields by name (RFC 9051 §6.4.5 HEADER.FIELDS[.NOT]), keeping the
    original lines, folding included, and the terminating blank line."""
    wanted = {n.lower().encode("ascii") for n in names}
    out: list[bytes] = []
    keep = False
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = (name in wanted) != exclude
        if keep:
            out.append(line)
    out.append(b"\r\n")
    return b"".join(out)


def section_bytes(
    raw: bytes, root: MimePart | None, header_size: int, section: Section
) -> bytes | None:
    """The bytes of ``BODY[section]`` (before any partial), or None if the part is absent.
    ``root`` (the MIME tree) is needed only when the section names a part."""
    if not section.part:
        msg_start, body_start, end = 0, header_size, len(raw)
    else:
        assert root is not None
        part = find_part(root, section.part)
        if part is None:
            return None
        if section.text is None:
            return raw[part.body_start : part.end]
        if section.text == "MIME":
            return raw[part.start : part.body_start]
        if not _is_message(part):
            return None  # HEADER/TEXT of a part that is not message/rfc822
        inner = part.children[0]
        msg_start, body_start, end = inner.start, inner.body_start, part.end
    if section.text is None:
        return raw[msg_start:end]
    if section.text == "TEXT":
        return raw[body_start:end]
    header = raw[msg_start:body_start]
    if section.text == "HEADER":
        return header
    return _header_fields(header, section.fields, exclude=section.text.endswith(".NOT"))


def binary_bytes(raw: bytes, root: MimePart | None, section: Section) -> bytes | None:
    """``BINARY[section]`` (RFC 3516 §4.2): the part body with its transfer encoding undone.
    ``root`` is needed only when the section names a part."""
    if not section.part:
        return raw
    assert root is not None
    part = find_part(root, section.part)
    if part is None:
        return None
    return decode_transfer(raw[part.body_start : part.end], part.encoding)


def partial(data: bytes, span: tuple[int, int] | None) -> bytes:
    """Apply ``<origin.count>`` (RFC 9051 §6.4.5)."""
    if span is None:
        return data
    origin, count = span
    return data[origin : origin + count]
