"""The parsed form of a message, shared by the store, IMAP, JMAP, search and the pipeline.

Invariants:

* Offsets are byte offsets into the *raw* message exactly as stored (the blob), so IMAP
  ``BODY[1.2]`` / ``BODY[1.MIME]`` and JMAP blob parts are slices of the raw bytes.
* Every text field is a ``str`` already decoded (RFC 2047/2231, charsets); undecodable bytes are
  replaced, never raised on.
* ``to_json``/``from_json`` round-trip exactly; the store keeps the JSON of
  :class:`MimePart` (``bodystructure``) and :class:`Envelope` so protocols never re-parse for
  FETCH BODYSTRUCTURE/ENVELOPE or JMAP ``bodyStructure``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Addr:
    """One mailbox address. ``email`` is ``local@domain`` (domain as written, may be U-label)."""

    name: str
    email: str

    def to_json(self) -> list[str]:
        return [self.name, self.email]

    @staticmethod
    def from_json(v: list[str]) -> Addr:
        return Addr(v[0], v[1])


@dataclass(slots=True)
class MimePart:
    """One node of the MIME tree (RFC 2045/2046), with offsets into the raw message.

    ``part_id`` is the IMAP section number ("1", "1.2"; the root of a non-multipart message is
    "1" for its body, and the message itself is ""). ``start`` is the first byte of the part's
    header, ``body_start`` the first byte of its body, ``end`` one past its last body byte.
    ``size`` is the encoded body size (``end - body_start``), ``lines`` its line count.
    For ``message/rfc822`` parts, ``children`` holds exactly one node: the encapsulated message's
    root, and ``envelope`` its envelope.
    """

    part_id: str
    type: str  # lower-case, e.g. "text"
    subtype: str  # lower-case, e.g. "plain"
    params: dict[str, str] = field(default_factory=dict)  # decoded (RFC 2231), keys lower-case
    disposition: str | None = None  # "inline" / "attachment" / None
    disposition_params: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None
    description: str | None = None
    encoding: str = "7bit"  # Content-Transfer-Encoding, lower-case
    language: list[str] | None = None
    location: str | None = None
    md5: str | None = None
    charset: str | None = None  # the charset actually used to decode (may differ from declared)
    filename: str | None = None  # decoded file name (RFC 2231 / 2047 / raw GBK...)
    start: int = 0
    body_start: int = 0
    end: int = 0
    size: int = 0
    lines: int = 0
    children: list[MimePart] = field(default_factory=list)
    envelope: Envelope | None = None

    @property
    def mime_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    def walk(self) -> list[MimePart]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k not in ("children", "envelope")}  # type: ignore[attr-defined]
        d["children"] = [c.to_json() for c in self.children]
        d["envelope"] = self.envelope.to_json() if self.envelope else None
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> MimePart:
        d = dict(d)
        children = [MimePart.from_json(c) for c in d.pop("children", [])]
        env = d.pop("envelope", None)
        p = MimePart(**d)
        p.children = children
        p.envelope = Envelope.from_json(env) if env else None
        return p


@dataclass(slots=True)
class Envelope:
    """RFC 3501 §7.4.2 ENVELOPE source values: the *raw* (still encoded, unfolded) header values,
    because IMAP returns them undecoded. ``None`` where the header is absent. Address lists are
    the raw header text; the IMAP layer parses them into the address structure."""

    date: str | None = None
    subject: str | None = None
    from_: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    in_reply_to: str | None = None
    message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> Envelope:
        return Envelope(**d)


@dataclass(slots=True)
class Attachment:
    part_id: str
    filename: str | None
    content_type: str  # "type/subtype"
    size: int  # decoded size in bytes (estimated from the encoded size for base64)
    disposition: str | None
    content_id: str | None
    inline: bool


@dataclass(slots=True)
class ParsedMessage:
    """Everything the server needs from a message, computed once at delivery."""

    size: int
    header_size: int  # bytes of the top-level header including the blank line
    subject: str
    from_: list[Addr]
    sender: list[Addr]
    reply_to: list[Addr]
    to: list[Addr]
    cc: list[Addr]
    bcc: list[Addr]
    date: datetime | None  # timezone-aware, from the Date header; None if absent or invalid
    message_id: str | None  # without angle brackets
    in_reply_to: list[str]  # message-ids without brackets
    references: list[str]
    text_body: str  # best plain text (HTML converted when there is no text part)
    html_body: str | None  # decoded, *unsanitized* HTML, or None
    preview: str  # <= 256 chars, whitespace collapsed
    attachments: list[Attachment]
    body: MimePart  # the root of the MIME tree
    envelope: Envelope
    #: Decoded top-level header fields in order: (name as written, decoded value).
    headers: list[tuple[str, str]]
    #: Problems found and worked around (for operators and spam rules), e.g. "no-boundary".
    defects: list[str] = field(default_factory=list)

    @property
    def has_attachment(self) -> bool:
        return any(not a.inline for a in self.attachments)

    def header(self, name: str) -> str | None:
        """First decoded value of header ``name`` (case-insensitive)."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None
