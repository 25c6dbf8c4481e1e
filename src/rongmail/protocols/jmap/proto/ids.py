"""JMAP ids for RongMail objects (RFC 8620 §1.2: 1-255 chars of ``[A-Za-z0-9_-]``).

Each kind gets a one-letter prefix over its database id (``M7`` mailbox, ``E42`` email), so an
id of the wrong kind never silently names another object. Blob ids are the store's hex content
id, prefixed ``G``; a body part appends ``_`` and its IMAP section (``G<hex>_1.2``).
"""

from __future__ import annotations

import re

ACCOUNT = "A"
MAILBOX = "M"
EMAIL = "E"
THREAD = "T"
IDENTITY = "I"
SUBMISSION = "S"
BLOB = "G"

_PART = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_HEX = re.compile(r"^[0-9a-f]{16,128}$")


def encode(prefix: str, n: int) -> str:
    return f"{prefix}{n}"


def decode(prefix: str, value: object) -> int | None:
    """The database id, or None when ``value`` is not an id of this kind."""
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    digits = value[len(prefix):]
    if not digits.isdigit() or len(digits) > 18 or (len(digits) > 1 and digits[0] == "0"):
        return None
    return int(digits)


def blob_id(store_blob: str, part_id: str | None = None) -> str:
    return f"{BLOB}{store_blob}" + (f"_{part_id}" if part_id else "")


def parse_blob_id(value: object) -> tuple[str, str | None] | None:
    """(store blob id, part section or None), or None when malformed."""
    if not isinstance(value, str) or not value.startswith(BLOB):
        return None
    body, _, part = value[1:].partition("_")
    if not _HEX.match(body) or (part and not _PART.match(part)):
        return None
    return body, part or None
