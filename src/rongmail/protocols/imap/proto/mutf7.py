"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3, kept by RFC 9051 §5.1 for IMAP4rev1 peers).

Role: convert between the Unicode mailbox names RongMail stores and the 7-bit wire form used
when the client has *not* enabled ``UTF8=ACCEPT`` (RFC 6855) or ``IMAP4rev2``.

Rules (RFC 3501 §5.1.3):

* printable US-ASCII ``0x20..0x7e`` stands for itself, except ``&`` which is written ``&-``;
* every other run of characters is UTF-16BE, encoded with the base64 alphabet of RFC 2045 where
  ``,`` replaces ``/``, without ``=`` padding, between ``&`` and ``-``.

Invariants: ``decode(encode(s)) == s`` for every ``str`` without lone surrogates, and
:func:`decode` accepts only the *canonical* encoding (no shifted printable ASCII, no adjacent
shifted runs, no non-zero padding bits, ``-`` always present), so one name has one wire form
and two different wire strings can never alias one mailbox.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["MUtf7Error", "decode", "encode"]


class MUtf7Error(ValueError):
    """The bytes are not a canonical modified UTF-7 string."""


def _is_direct(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def _b64(run: str) -> str:
    raw = run.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode(name: str) -> str:
    """Encode a Unicode mailbox name into modified UTF-7 (pure ASCII)."""
    out: list[str] = []
    run: list[str] = []
    for ch in name:
        if _is_direct(ch):
            if run:
                out.append("&" + _b64("".join(run)) + "-")
                run.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    if run:
        out.append("&" + _b64("".join(run)) + "-")
    return "".join(out)


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
_B64_CHARS = frozenset(_B64_ALPHABET)


def _unb64(chunk: str) -> str:
    if not chunk or any(c not in _B64_CHARS for c in chunk):
        raise MUtf7Error("bad base64 in shifted run")
    extra = (len(chunk) * 6) % 16  # padding bits after the last whole UTF-16 unit
    if extra >= 6:  # a whole base64 character that carries no UTF-16 bits
        raise MUtf7Error("overlong shifted run")
    if _B64_ALPHABET.index(chunk[-1]) & ((1 << extra) - 1):
        raise MUtf7Error("non-zero padding bits")
    padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MUtf7Error("bad base64 in shifted run") from exc
    if len(raw) % 2:
        raise MUtf7Error("odd UTF-16 length")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise MUtf7Error("bad UTF-16 in shifted run") from exc
    if any(_is_direct(c) for c in text):
        raise MUtf7Error("printable ASCII must not be shifted")
    return text


def decode(wire: str | bytes) -> str:
    """Decode a modified UTF-7 mailbox name; raise :class:`MUtf7Error` if not canonical."""
    if isinstance(wire, bytes):
        try:
            wire = wire.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MUtf7Error("8-bit byte in modified UTF-7") from exc
    out: list[str] = []
    i = 0
    n = len(wire)
    prev_shifted = False
    while i < n:
        ch = wire[i]
        if not _is_direct(ch):
            raise MUtf7Error("control character in mailbox name")
        if ch != "&":
            out.append(ch)
            i += 1
            prev_shifted = False
            continue
        end = wire.find("-", i + 1)
        if end < 0:
            raise MUtf7Error("unterminated shifted run")
        chunk = wire[i + 1 : end]
        if chunk == "":
            out.append("&")
            prev_shifted = False
        else:
            if prev_shifted:
                raise MUtf7Error("adjacent shifted runs")
            out.append(_unb64(chunk))
            prev_shifted = True
        i = end + 1
    return "".join(out)
