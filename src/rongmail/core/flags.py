"""Message flags and keywords (RFC 9051 §2.3.2, RFC 8621 §4.1.1).

System flags are kept as a bitmask (fast IMAP SEARCH and counts); other keywords as a set of
lower-case strings. IMAP keywords are case-insensitive; JMAP keywords are lower-case, so storing
lower-case is faithful to both. ``$seen`` etc. are the JMAP spellings of the system flags.
"""

from __future__ import annotations

SEEN = 1
ANSWERED = 2
FLAGGED = 4
DELETED = 8
DRAFT = 16
FORWARDED = 32  # $Forwarded (RFC 5788 registry), common in clients
JUNK = 64  # $Junk
NOTJUNK = 128  # $NotJunk

#: IMAP system flag name -> bit
IMAP_FLAGS: dict[str, int] = {
    "\\seen": SEEN,
    "\\answered": ANSWERED,
    "\\flagged": FLAGGED,
    "\\deleted": DELETED,
    "\\draft": DRAFT,
    "$forwarded": FORWARDED,
    "$junk": JUNK,
    "$notjunk": NOTJUNK,
}
#: JMAP keyword -> bit (RFC 8621 §4.1.1)
JMAP_KEYWORDS: dict[str, int] = {
    "$seen": SEEN,
    "$answered": ANSWERED,
    "$flagged": FLAGGED,
    "$deleted": DELETED,
    "$draft": DRAFT,
    "$forwarded": FORWARDED,
    "$junk": JUNK,
    "$notjunk": NOTJUNK,
}
_IMAP_NAMES = {
    SEEN: "\\Seen",
    ANSWERED: "\\Answered",
    FLAGGED: "\\Flagged",
    DELETED: "\\Deleted",
    DRAFT: "\\Draft",
    FORWARDED: "$Forwarded",
    JUNK: "$Junk",
    NOTJUNK: "$NotJunk",
}
_JMAP_NAMES = {bit: name for name, bit in JMAP_KEYWORDS.items()}
MAX_KEYWORD_LEN = 100
MAX_KEYWORDS = 64


def split_flags(names: list[str] | tuple[str, ...] | set[str]) -> tuple[int, frozenset[str]]:
    """Split IMAP flag names or JMAP keywords into (bitmask, other lower-case keywords)."""
    bits = 0
    kws: set[str] = set()
    for n in names:
        low = n.lower()
        bit = IMAP_FLAGS.get(low) or JMAP_KEYWORDS.get(low)
        if bit:
            bits |= bit
        else:
            kws.add(low)
    return bits, frozenset(kws)


def imap_flags(bits: int, keywords: frozenset[str] | set[str]) -> list[str]:
    """Render as IMAP flag names, system flags first, stable order."""
    out = [name for bit, name in _IMAP_NAMES.items() if bits & bit]
    out.extend(sorted(keywords))
    return out


def jmap_keywords(bits: int, keywords: frozenset[str] | set[str]) -> dict[str, bool]:
    out = {name: True for bit, name in _JMAP_NAMES.items() if bits & bit}
    out.update({k: True for k in keywords})
    return out


def encode_keywords(keywords: frozenset[str] | set[str]) -> str:
    """Stored form: space separated, sorted (keywords are atoms: no spaces)."""
    return " ".join(sorted(keywords))


#: The keywords of a message without any: one shared object. ``frozenset()`` is not a singleton
#: (216 bytes each since Python 3.10), and nearly every listed message has no keyword: a
#: 10,000-message IMAP listing held 2 MB of empty sets.
NO_KEYWORDS: frozenset[str] = frozenset()


def decode_keywords(s: str | None) -> frozenset[str]:
    return frozenset(s.split()) if s else NO_KEYWORDS
