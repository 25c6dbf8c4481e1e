"""IMAP response serializer (RFC 9051 §7, §4.3; RFC 3501 §4.3; RFC 6855 UTF8=ACCEPT).

Role: turn Python values into wire bytes so that command handlers never build protocol syntax
by string concatenation. :func:`render` maps

* ``None`` -> ``NIL``; ``int`` -> number; :class:`Atom` -> itself (flags, keywords, names);
* :class:`MailboxName` -> modified UTF-7 or UTF-8 string (:func:`mailbox`);
* ``str`` -> a quoted string when safe, else a literal (:func:`string`);
* ``bytes`` -> a literal; :class:`Literal8` -> ``~{n}`` (RFC 3516 BINARY);
* :class:`Rendered` -> itself (a value this module rendered earlier, e.g. a cached ENVELOPE);
* ``list``/``tuple`` -> a parenthesised list.

Invariants:

* Client-controlled text can never end a line early: quoted strings hold no CR, LF or NUL,
  anything else goes into a counted literal, and ``resp-text`` has CR/LF removed.
* 8-bit text is sent quoted only when the client enabled ``UTF8=ACCEPT`` or ``IMAP4rev2``
  (RFC 6855 §3, RFC 9051 §9 ``QUOTED-CHAR``); otherwise it goes in a literal (``CHAR8``) and
  mailbox names are modified UTF-7 (:mod:`.mutf7`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Union

from . import mutf7

__all__ = [
    "Atom",
    "Literal8",
    "MailboxName",
    "Rendered",
    "Value",
    "continuation",
    "fetch",
    "flags",
    "internal_date",
    "mailbox",
    "render",
    "resp_text",
    "string",
    "tagged",
    "untagged",
]

#: Quoted strings longer than this are sent as literals (readability of huge headers).
MAX_QUOTED = 1024
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Atom(str):
    """Text sent verbatim: flags, capability names, keywords, ``NIL``-free atoms.

    Only construct from server-side constants or values validated as atoms/flags.
    """

    __slots__ = ()


class MailboxName(str):
    """A mailbox name: rendered in modified UTF-7 unless UTF-8 is enabled (:func:`mailbox`)."""

    __slots__ = ()


class Literal8(bytes):
    """Binary content for ``BINARY[...]`` (RFC 3516 §4.2), sent as ``~{n}``."""

    __slots__ = ()


class Rendered(bytes):
    """Wire bytes :func:`render` produced before (a cached value), sent verbatim.

    Only construct from the output of :func:`render`, so the invariants below still hold.
    """

    __slots__ = ()


Value = Union[None, int, str, bytes, "Sequence[Value]"]


def string(value: str | bytes, *, utf8: bool = False) -> bytes:
    """``string`` (RFC 9051 §9): quoted if every byte may be quoted, else a literal."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if b"\x00" in raw:
        raw = raw.replace(b"\x00", b"")
    if len(raw) <= MAX_QUOTED and b"\r" not in raw and b"\n" not in raw:
        if raw.isascii() or (utf8 and _is_utf8(raw)):
            return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def mailbox(name: str, *, utf8: bool = False) -> bytes:
    """A mailbox name: UTF-8 when enabled, modified UTF-7 otherwise (RFC 3501 §5.1.3)."""
    return string(name if utf8 else mutf7.encode(name), utf8=utf8)


def render(value: object, *, utf8: bool = False) -> bytes:
    """Serialize one value (see the module docstring)."""
    if value is None:
        return b"NIL"
    if isinstance(value, bool):  # bool is an int; never meant as a number on the wire
        raise TypeError("bool is not an IMAP value")
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, Atom):
        return value.encode("ascii")
    if isinstance(value, MailboxName):
        return mailbox(value, utf8=utf8)
    if isinstance(value, str):
        return string(value, utf8=utf8)
    if isinstance(value, Rendered):
        return bytes(value)
    if isinstance(value, Literal8):
        return b"~{%d}\r\n" % len(value) + bytes(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return b"{%d}\r\n" % len(raw) + raw
    if isinstance(value, list | tuple):
        return b"(" + b" ".join(render(v, utf8=utf8) for v in value) + b")"
    raise TypeError(f"cannot render {type(value).__name__}")


def resp_text(text: str, *, utf8: bool = False) -> bytes:
    """``resp-text``: one line; 8-bit only with UTF-8 enabled (RFC 9051 §9 ``text``)."""
    clean = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    if utf8:
        return clean.encode("utf-8", "replace")
    return clean.encode("ascii", "replace")


def _code(code: str | None) -> bytes:
    return b"[" + code.encode("ascii") + b"] " if code else b""


def tagged(
    tag: str, status: str, text: str, *, code: str | None = None, utf8: bool = False
) -> bytes:
    """``tag SP ("OK" / "NO" / "BAD") SP [resp-text-code SP] text CRLF``."""
    return (
        tag.encode("ascii")
        + b" "
        + status.encode("ascii")
        + b" "
        + _code(code)
        + resp_text(text, utf8=utf8)
        + b"\r\n"
    )


def untagged(*parts: object, utf8: bool = False) -> bytes:
    """``"*" SP`` parts separated by SP; strings among ``parts`` are rendered as values."""
    return b"* " + b" ".join(render(p, utf8=utf8) for p in parts) + b"\r\n"


def untagged_status(
    status: str, text: str, *, code: str | None = None, utf8: bool = False
) -> bytes:
    """``* OK [code] text`` / ``* NO`` / ``* BAD`` / ``* BYE`` / ``* PREAUTH``."""
    return (
        b"* " + status.encode("ascii") + b" " + _code(code) + resp_text(text, utf8=utf8) + b"\r\n"
    )


def continuation(text: str = "", *, utf8: bool = False) -> bytes:
    """``"+" SP (resp-text / base64) CRLF`` (RFC 9051 §7.5)."""
    return b"+ " + resp_text(text, utf8=utf8) + b"\r\n"


def flags(values: Iterable[str]) -> list[Atom]:
    """A flag list (RFC 9051 §2.3.2) as atoms."""
    return [Atom(f) for f in values]


def internal_date(when: datetime) -> str:
    """``date-time`` text, e.g. ``17-Jul-1996 02:44:25 -0700`` (RFC 9051 §9)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def fetch(msn: int, items: Iterable[tuple[str, object]], *, utf8: bool = False) -> bytes:
    """``* msn FETCH (name value ...)``; names are server-built (``BODY[1.MIME]<0>``)."""
    body = b" ".join(name.encode("ascii") + b" " + render(v, utf8=utf8) for name, v in items)
    return b"* %d FETCH (" % msn + body + b")\r\n"
