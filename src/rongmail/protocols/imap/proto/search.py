"""SEARCH criteria as a typed AST (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5 MODSEQ,
RFC 5032 WITHIN, RFC 8474 OBJECTID, RFC 5182 ``$``).

Role: turn ``search-key *(SP search-key)`` into immutable nodes that the store's search
translates to SQL/FTS without ever seeing IMAP syntax. SORT and THREAD reuse the same parser.

Invariants:

* String arguments are ``str`` decoded with the command's ``CHARSET`` (UTF-8 by default);
  undecodable bytes become U+FFFD rather than an error, so a bad byte never hides a message.
* Shorthand keys are normalised: ``FROM x`` is ``Header("FROM", x)``, ``SEEN`` is
  ``Flag("\\Seen", True)``, ``NEW`` is ``\\Recent`` and not ``\\Seen``; so the evaluator has
  few cases.
* Nesting (parentheses, ``NOT``, ``OR``) is bounded by :data:`MAX_DEPTH`; recursion never goes
  deeper, whatever the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from .cursor import Cursor, ParseError
from .sequence import SequenceSet

__all__ = [
    "MAX_DEPTH",
    "SUPPORTED_CHARSETS",
    "Age",
    "All",
    "And",
    "Body",
    "Date",
    "Flag",
    "Header",
    "ModSeq",
    "Not",
    "ObjectId",
    "Or",
    "SearchKey",
    "Sequence",
    "Size",
    "Text",
    "parse_search_keys",
]

MAX_DEPTH = 32
#: Charsets accepted in ``CHARSET`` (RFC 9051 §6.4.4 requires UTF-8 and US-ASCII); the Chinese
#: legacy charsets are accepted because Foxmail and older Outlook send them.
SUPPORTED_CHARSETS: dict[str, str] = {
    "UTF-8": "utf-8",
    "US-ASCII": "ascii",
    "GB2312": "gb18030",
    "GBK": "gb18030",
    "GB18030": "gb18030",
    "BIG5": "big5",
}


class SearchKey:
    """Base class of every node."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class All(SearchKey):
    pass


@dataclass(frozen=True, slots=True)
class And(SearchKey):
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True, slots=True)
class Or(SearchKey):
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class Not(SearchKey):
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Flag(SearchKey):
    """A system flag (``\\Seen``) or keyword is set (``present``) or not."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Header(SearchKey):
    """``HEADER field value``; FROM/TO/CC/BCC/SUBJECT too. Empty ``value``: the field exists."""

    field: str  # upper-case
    value: str


@dataclass(frozen=True, slots=True)
class Body(SearchKey):
    value: str


@dataclass(frozen=True, slots=True)
class Text(SearchKey):
    """Header or body contains ``value`` (RFC 9051 §6.4.4 ``TEXT``)."""

    value: str


@dataclass(frozen=True, slots=True)
class Date(SearchKey):
    """``internal``: INTERNALDATE (BEFORE/ON/SINCE); ``sent``: the Date header (SENT*).

    Comparison is by calendar date, disregarding time and zone (RFC 9051 §6.4.4).
    """

    field: Literal["internal", "sent"]
    op: Literal["before", "on", "since"]
    day: date


@dataclass(frozen=True, slots=True)
class Size(SearchKey):
    op: Literal["larger", "smaller"]
    size: int


@dataclass(frozen=True, slots=True)
class Sequence(SearchKey):
    """Message sequence numbers (``uid=False``) or UIDs (``UID set``)."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class ModSeq(SearchKey):
    """RFC 7162 §3.1.5: mod-sequence >= ``modseq``. ``entry`` is accepted and ignored
    (per-flag mod-sequences are not tracked; allowed by §3.1.5)."""

    modseq: int
    entry: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Age(SearchKey):
    """RFC 5032: ``OLDER n`` / ``YOUNGER n`` seconds, by INTERNALDATE."""

    op: Literal["older", "younger"]
    seconds: int


@dataclass(frozen=True, slots=True)
class ObjectId(SearchKey):
    """RFC 8474 §6: ``EMAILID id`` / ``THREADID id``."""

    kind: Literal["EMAILID", "THREADID"]
    value: str


_FLAG_KEYS: dict[str, tuple[str, bool]] = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "RECENT": ("\\Recent", True),
    "OLD": ("\\Recent", False),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_HEADER_KEYS = frozenset({"FROM", "TO", "CC", "BCC", "SUBJECT"})
_DATE_KEYS: dict[str, tuple[Literal["internal", "sent"], Literal["before", "on", "since"]]] = {
    "BEFORE": ("internal", "before"),
    "ON": ("internal", "on"),
    "SINCE": ("internal", "since"),
    "SENTBEFORE": ("sent", "before"),
    "SENTON": ("sent", "on"),
    "SENTSINCE": ("sent", "since"),
}
_SEQ_START = frozenset(b"0123456789*$")


class _KeyParser:
    __slots__ = ("codec", "cur")

    def __init__(self, cur: Cursor, codec: str) -> None:
        self.cur = cur
        self.codec = codec

    def text(self) -> str:
        self.cur.sp()
        return self.cur.astring().decode(self.codec, "replace")

    def key(self, depth: int) -> SearchKey:
        cur = self.cur
        if depth > MAX_DEPTH:
            raise ParseError("search-key nesting")
        c = cur.peek()
        if c == ord("("):
            cur.pos += 1
            keys = [self.key(depth + 1)]
            while not cur.accept(b")"):
                cur.sp()
                keys.append(self.key(depth + 1))
            return keys[0] if len(keys) == 1 else And(tuple(keys))
        if c in _SEQ_START:
            return Sequence(cur.sequence_set())
        word = cur.keyword("search-key")
        if word in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[word]
            return Flag(flag, present)
        if word in _HEADER_KEYS:
            return Header(word, self.text())
        if word in _DATE_KEYS:
            field, op = _DATE_KEYS[word]
            cur.sp()
            return Date(field, op, cur.date().date())
        match word:
            case "ALL":
                return All()
            case "NEW":
                return And((Flag("\\Recent", True), Flag("\\Seen", False)))
            case "BODY":
                return Body(self.text())
            case "TEXT":
                return Text(self.text())
            case "HEADER":
                cur.sp()
                name = cur.astring("header-fld-name").decode("ascii", "replace").upper()
                return Header(name, self.text())
            case "KEYWORD" | "UNKEYWORD":
                cur.sp()
                return Flag(cur.atom("flag-keyword"), word == "KEYWORD")
            case "LARGER" | "SMALLER":
                cur.sp()
                return Size("larger" if word == "LARGER" else "smaller", cur.number())
            case "UID":
                cur.sp()
                return Sequence(cur.sequence_set(), uid=True)
            case "NOT":
                cur.sp()
                return Not(self.key(depth + 1))
            case "OR":
                cur.sp()
                left = self.key(depth + 1)
                cur.sp()
                return Or(left, self.key(depth + 1))
            case "MODSEQ":
                return self._modseq()
            case "OLDER" | "YOUNGER":
                cur.sp()
                return Age("older" if word == "OLDER" else "younger", cur.number(nonzero=True))
            case "EMAILID" | "THREADID":
                cur.sp()
                return ObjectId(word, cur.atom("objectid"))
        raise ParseError("search-key")

    def _modseq(self) -> ModSeq:
        cur = self.cur
        cur.sp()
        entry = None
        if cur.peek() == ord('"') or cur.peek() == ord("{"):
            name = cur.string().decode("ascii", "replace")
            cur.sp()
            kind = cur.keyword("entry-type-req")
            if kind not in ("PRIV", "SHARED", "ALL"):
                raise ParseError("entry-type-req")
            cur.sp()
            entry = (name, kind)
        return ModSeq(cur.number(bits64=True, what="mod-sequence-valzer"), entry)


def charset_codec(name: str) -> str:
    """The Python codec for a ``CHARSET`` name; ``NO [BADCHARSET]`` if unsupported."""
    codec = SUPPORTED_CHARSETS.get(name.upper())
    if codec is None:
        raise ParseError(
            "charset",
            key="imap.no.badcharset",
            status="NO",
            code="BADCHARSET (" + " ".join(SUPPORTED_CHARSETS) + ")",
        )
    return codec


def parse_search_keys(cur: Cursor, charset: str = "UTF-8") -> SearchKey:
    """``search-key *(SP search-key)`` up to the end of the command (not consumed)."""
    parser = _KeyParser(cur, charset_codec(charset))
    keys = [parser.key(0)]
    while not cur.at_eol():
        cur.sp()
        keys.append(parser.key(0))
    return keys[0] if len(keys) == 1 else And(tuple(keys))
