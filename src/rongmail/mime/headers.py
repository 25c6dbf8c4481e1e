"""Structured header fields: address lists, message-id lists and dates, decoded for display.

Role: turn raw (unfolded, 8-bit-decoded but still RFC 2047-encoded) header values into the typed
values of :class:`~rongmail.mime.model.ParsedMessage`; also usable by IMAP for ENVELOPE address
structures (RFC 3501 §7.4.2).

Tolerances: address lists without quoting, comments, groups or domain literals (nearly all
real mail) are split by a fast path, everything else by :func:`email.utils.getaddresses`
(RFC 5322 §3.4); display names are RFC 2047-decoded after splitting, so an encoded comma cannot
split an address. Message-ids are taken from ``<...>`` tokens (RFC 5322 §3.6.4), or from bare
``local@domain`` words when a mailer forgot the brackets. Dates accept RFC 5322 §3.3 with
obsolete forms (two-digit years, zone names, trailing comments) plus ISO 8601; a date
without a zone is taken as UTC; years outside 1900-2200 are rejected.

Invariant: no function here raises on any ``str`` input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from rongmail.mime.encoded_words import decode_encoded_words
from rongmail.mime.model import Addr

__all__ = ["parse_addresses", "parse_date", "parse_msgids", "split_addresses"]

_MSGID = re.compile(r"<([^<>\s]+)>")


_SIMPLE_ADDR = re.compile(r"\s*(?:([^<>]*?)\s*<([^<>\s]*)>|([^<>\s]+))\s*")
_COMPLEX_ADDR = frozenset('"()\\:;[')


def split_addresses(value: str) -> list[tuple[str, str]]:
    """RFC 5322 §3.4 address list -> ``(display name, addr-spec)`` pairs, still encoded.

    Lists without quoting, comments, groups or domain literals (the vast majority) take a
    regular-expression path; everything else goes through :func:`email.utils.getaddresses`.
    """
    if _COMPLEX_ADDR.isdisjoint(value):
        out: list[tuple[str, str]] = []
        for item in value.split(","):
            if not item.strip():
                continue
            m = _SIMPLE_ADDR.fullmatch(item)
            if m is None:
                break
            if m.group(3) is not None:
                out.append(("", m.group(3)))
            else:
                out.append((m.group(1), m.group(2)))
        else:
            return out
    try:
        return getaddresses([value])
    except Exception:  # noqa: BLE001 - stdlib parser on hostile input
        return []


def parse_addresses(value: str | None) -> list[Addr]:
    if not value:
        return []
    out: list[Addr] = []
    for name, email in split_addresses(value):
        if not name and not email:
            continue
        name = decode_encoded_words(name).strip() if name else ""
        out.append(Addr(name, email.strip()))
    return out


def parse_msgids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _MSGID.findall(value)
    if found:
        return found
    return [t.strip("<>,;") for t in value.split() if "@" in t]


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    value = " ".join(value.split())
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        dt = None
    if dt is None:
        cleaned = re.sub(r"\([^)]*\)", " ", value).replace(",", " ").strip()
        for candidate in (cleaned, cleaned.replace("/", "-")):
            try:
                dt = datetime.fromisoformat(candidate)
                break
            except ValueError:
                try:
                    dt = parsedate_to_datetime(candidate)
                    break
                except (TypeError, ValueError, IndexError, OverflowError):
                    continue
    if dt is None or not 1900 <= dt.year <= 2200:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt
