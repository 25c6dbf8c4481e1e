"""FETCH attributes (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ, RFC 8474 OBJECTID).

Role: parse ``fetch-att`` lists and the macros ``ALL``/``FAST``/``FULL`` into
:class:`FetchAtt` values, and name each attribute the way the response must name it.

Invariants:

* ``BODY.PEEK[...]`` and ``BINARY.PEEK[...]`` are ``BODY``/``BINARY`` with ``peek=True``; the
  response never says ``.PEEK`` (RFC 9051 §7.5.2).
* A partial ``<origin.count>`` is answered as ``BODY[...]<origin>`` (RFC 9051 §7.5.2).
* Header field names in ``HEADER.FIELDS`` are upper-cased ASCII; the section text is canonical
  (``1.2.HEADER.FIELDS (FROM TO)``), so equal requests compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cursor import Cursor, ParseError

__all__ = ["MACROS", "FetchAtt", "Section", "parse_fetch_atts"]

_SIMPLE = frozenset(
    {
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",  # RFC 7162 §3.1.4.1
        "EMAILID",  # RFC 8474 §5
        "THREADID",  # RFC 8474 §5
        "SAVEDATE",  # RFC 8514
    }
)
_SECTION_TEXT = ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME")
_MAX_FETCH_ATTS = 64


@dataclass(frozen=True, slots=True)
class Section:
    """``section-spec``: a part path (``1.2``) and an optional text specifier."""

    part: tuple[int, ...] = ()
    text: str | None = None  # HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        out = ".".join(str(p) for p in self.part)
        if self.text:
            out = f"{out}.{self.text}" if out else self.text
            if self.text.startswith("HEADER.FIELDS"):
                out += " (" + " ".join(self.fields) + ")"
        return out


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One ``fetch-att``. ``section`` is set for ``BODY[..]``, ``BINARY[..]``, ``BINARY.SIZE[..]``."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None  # (origin, count)
    peek: bool = False

    @property
    def sets_seen(self) -> bool:
        """RFC 9051 §6.4.5: BODY[...], BINARY[...], RFC822 and RFC822.TEXT set ``\\Seen``."""
        if self.name in ("RFC822", "RFC822.TEXT"):
            return True
        return self.section is not None and self.name in ("BODY", "BINARY") and not self.peek

    def response_name(self) -> str:
        """The item name in the FETCH response (RFC 9051 §7.5.2)."""
        if self.section is None:
            return self.name
        out = f"{self.name}[{self.section}]"
        if self.partial is not None:
            out += f"<{self.partial[0]}>"
        return out


#: RFC 9051 §6.4.5 macros.
MACROS: dict[str, tuple[FetchAtt, ...]] = {
    "ALL": (
        FetchAtt("FLAGS"),
        FetchAtt("INTERNALDATE"),
        FetchAtt("RFC822.SIZE"),
        FetchAtt("ENVELOPE"),
    ),
    "FAST": (FetchAtt("FLAGS"), FetchAtt("INTERNALDATE"), FetchAtt("RFC822.SIZE")),
    "FULL": (
        FetchAtt("FLAGS"),
        FetchAtt("INTERNALDATE"),
        FetchAtt("RFC822.SIZE"),
        FetchAtt("ENVELOPE"),
        FetchAtt("BODY"),
    ),
}

_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


def _name(cur: Cursor) -> str:
    start = cur.pos
    while cur.peek() in _NAME_CHARS:
        cur.pos += 1
    if cur.pos == start:
        raise ParseError("fetch-att")
    return cur.data[start : cur.pos].decode("ascii").upper()


def _part(cur: Cursor) -> tuple[int, ...]:
    """``section-part = nz-number *("." nz-number)``, stopping before a text specifier."""
    parts = [cur.number(nonzero=True, what="section-part")]
    while cur.peek() == ord(".") and cur.data[cur.pos + 1 : cur.pos + 2].isdigit():
        cur.pos += 1
        parts.append(cur.number(nonzero=True, what="section-part"))
    if len(parts) > 32:
        raise ParseError("section-part")
    return tuple(parts)


def _section(cur: Cursor, *, binary: bool) -> Section:
    cur.expect(b"[", "section")
    if cur.accept(b"]"):
        return Section()
    part: tuple[int, ...] = ()
    if 0x30 <= cur.peek() <= 0x39:
        part = _part(cur)
        if cur.accept(b"]"):
            return Section(part)
        if binary:
            raise ParseError("section-binary")
        cur.expect(b".", "section-text")
    elif binary:
        raise ParseError("section-binary")
    text = None
    for candidate in _SECTION_TEXT:
        if cur.data[cur.pos : cur.pos + len(candidate)].upper() == candidate.encode():
            text = candidate
            cur.pos += len(candidate)
            break
    if text is None or (text == "MIME" and not part):
        raise ParseError("section-text")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        cur.sp()
        cur.expect(b"(", "header-list")
        names: list[str] = []
        while True:
            raw = cur.astring("header-fld-name")
            try:
                names.append(raw.decode("ascii").upper())
            except UnicodeDecodeError:
                raise ParseError("header-fld-name") from None
            if cur.accept(b")"):
                break
            cur.sp()
        fields = tuple(names)
    cur.expect(b"]", "section")
    return Section(part, text, fields)


def _partial(cur: Cursor) -> tuple[int, int] | None:
    if not cur.accept(b"<"):
        return None
    origin = cur.number(what="partial")
    cur.expect(b".", "partial")
    count = cur.number(nonzero=True, what="partial")
    cur.expect(b">", "partial")
    return origin, count


def _fetch_att(cur: Cursor) -> FetchAtt:
    name = _name(cur)
    if name in ("BODY", "BODY.PEEK") and cur.peek() == ord("["):
        section = _section(cur, binary=False)
        return FetchAtt("BODY", section, _partial(cur), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK"):
        section = _section(cur, binary=True)
        return FetchAtt("BINARY", section, _partial(cur), peek=name == "BINARY.PEEK")
    if name == "BINARY.SIZE":
        return FetchAtt("BINARY.SIZE", _section(cur, binary=True))
    if name in _SIMPLE:
        return FetchAtt(name)
    raise ParseError("fetch-att")


def parse_fetch_atts(cur: Cursor) -> tuple[FetchAtt, ...]:
    """``("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")``."""
    if cur.accept(b"("):
        atts: list[FetchAtt] = []
        while True:
            atts.append(_fetch_att(cur))
            if len(atts) > _MAX_FETCH_ATTS:
                raise ParseError("fetch-att")
            if cur.accept(b")"):
                return tuple(atts)
            cur.sp()
    for macro, expansion in MACROS.items():
        if cur.accept_word(macro):
            return expansion
    return (_fetch_att(cur),)
