"""Hash chain of the security audit log (pure functions; no I/O).

Each audit entry carries ``prev`` (the digest of the entry before it) and ``digest``::

    digest = HMAC-SHA256(chain_key, prev || "\\n" || canonical_json(fields))

``fields`` hold every stored column of the entry, *including* its sequence number, so an edited
column, a deleted entry (a gap in ``seq``, or a ``prev`` that no longer matches) or re-ordered
entries are all detected by recomputing the chain. The key is kept outside the database
(``<data-dir>/keys/audit.key``): someone who can write the database but not read that file
cannot forge a consistent chain after editing it (a plain SHA-256 chain could simply be
recomputed). Truncating the newest entries *and* rewinding the head row is only detectable
against an external witness: every append logs ``(seq, digest)`` to the ``rongmail.audit``
logger, and ``rongmail audit verify --expect SEQ:DIGEST`` checks a saved anchor.

Invariants: canonical JSON is UTF-8, sorted keys, no whitespace, so the digest of an entry does
not depend on the driver or on dict ordering; ``GENESIS`` is the ``prev`` of entry 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_digest(key: bytes, prev: str, fields: dict[str, Any]) -> str:
    """The digest of one entry, chained to ``prev`` (hex)."""
    mac = hmac.new(key, prev.encode("ascii") + b"\n" + canonical(fields), hashlib.sha256)
    return mac.hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
