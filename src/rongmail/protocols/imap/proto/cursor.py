"""Lexical primitives of the IMAP command grammar (RFC 9051 §9, RFC 3501 §9).

Role: a :class:`Cursor` walks the bytes of *one complete command* (the framer in
:mod:`.parser` has already collected every literal, so a literal ``{n}\\r\\n`` is followed by its
``n`` bytes in ``data``) and returns typed tokens. Each method either consumes exactly the
production it names or raises :class:`ParseError` with the ABNF name of what was expected; the
grammar modules turn that into a tagged ``BAD``.

Invariants: no method reads past ``len(data)``; every loop advances ``pos``; nothing here
allocates more than the size of the command it parses, so a bounded command gives bounded work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from .sequence import MAX_NUMBER, SequenceSet

__all__ = ["Cursor", "ParseError"]

MAX_NUMBER64 = 2**63 - 1  # RFC 9051 §9 ``number64`` / RFC 7162 ``mod-sequence-value``


class ParseError(Exception):
    """Internal signal: the command does not match the grammar.

    ``detail`` names the ABNF production that was expected (language-neutral RFC terms);
    ``status``/``code`` let a grammar rule ask for ``NO [BADCHARSET]`` instead of ``BAD``.
    """

    def __init__(
        self,
        detail: str,
        *,
        key: str = "imap.bad.syntax",
        status: Literal["BAD", "NO"] = "BAD",
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.key = key
        self.status = status
        self.code = code


def _cls(chars: bytes) -> frozenset[int]:
    return frozenset(chars)


_CTL = frozenset(range(0x00, 0x20)) | {0x7F}
_ATOM_SPECIALS = _cls(b'(){ %*"\\]') | _CTL
#: ATOM-CHAR: CHAR (0x01-0x7f) except atom-specials.
ATOM_CHARS = frozenset(range(0x01, 0x80)) - _ATOM_SPECIALS
#: ASTRING-CHAR = ATOM-CHAR / resp-specials.
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
#: list-char = ATOM-CHAR / list-wildcards / resp-specials.
LIST_CHARS = ASTRING_CHARS | _cls(b"%*")
#: tag = 1*<any ASTRING-CHAR except "+">.
TAG_CHARS = ASTRING_CHARS - {ord("+")}
_SEQ_CHARS = _cls(b"0123456789:,*$")
_DIGITS = _cls(b"0123456789")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_SP = 0x20
_DQUOTE = 0x22
_BACKSLASH = 0x5C


class Cursor:
    """A read position in one command. ``data`` ends with CRLF."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    # -- basic -----------------------------------------------------------------------------
    def peek(self) -> int:
        """The next byte, or -1 at the end."""
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def at_eol(self) -> bool:
        return self.data.startswith(b"\r\n", self.pos)

    def expect(self, token: bytes, what: str | None = None) -> None:
        if not self.data.startswith(token, self.pos):
            raise ParseError(what or token.decode("ascii"))
        self.pos += len(token)

    def accept(self, token: bytes) -> bool:
        """Consume ``token`` (exact bytes) if it is next."""
        if self.data.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        """Consume keyword ``word`` (case-insensitive) if it is next and ends there."""
        end = self.pos + len(word)
        if self.data[self.pos : end].upper() != word.encode("ascii"):
            return False
        if end < len(self.data) and self.data[end] in ASTRING_CHARS:
            return False
        self.pos = end
        return True

    def sp(self) -> None:
        if self.peek() != _SP:
            raise ParseError("SP")
        self.pos += 1

    def accept_sp(self) -> bool:
        if self.peek() == _SP:
            self.pos += 1
            return True
        return False

    def eol(self) -> None:
        """The command must end here (CRLF, then nothing)."""
        if not self.at_eol() or self.pos + 2 != len(self.data):
            raise ParseError("CRLF")
        self.pos += 2

    def _run(self, allowed: frozenset[int]) -> bytes:
        start = self.pos
        data = self.data
        n = len(data)
        while self.pos < n and data[self.pos] in allowed:
            self.pos += 1
        return data[start : self.pos]

    # -- atoms and numbers -----------------------------------------------------------------
    def atom(self, what: str = "atom") -> str:
        raw = self._run(ATOM_CHARS)
        if not raw:
            raise ParseError(what)
        return raw.decode("ascii")

    def keyword(self, what: str = "atom") -> str:
        """An atom, upper-cased (command names, search keys, fetch attributes)."""
        return self.atom(what).upper()

    def tag(self) -> str:
        raw = self._run(TAG_CHARS)
        if not raw:
            raise ParseError("tag")
        return raw.decode("ascii")

    def number(self, *, nonzero: bool = False, bits64: bool = False, what: str = "number") -> int:
        raw = self._run(_DIGITS)
        if not raw or len(raw) > 19:
            raise ParseError(what)
        value = int(raw)
        if value > (MAX_NUMBER64 if bits64 else MAX_NUMBER) or (nonzero and value == 0):
            raise ParseError(what)
        return value

    def sequence_set(self) -> SequenceSet:
        raw = self._run(_SEQ_CHARS)
        try:
            return SequenceSet.parse(raw.decode("ascii"))
        except ValueError:
            raise ParseError("sequence-set") from None

    # -- strings ---------------------------------------------------------------------------
    def quoted(self) -> bytes:
        """RFC 9051 ``quoted``: QUOTED-CHAR may be UTF-8 (UTF8-2/3/4); no CR, LF or NUL."""
        self.expect(b'"', "quoted")
        out = bytearray()
        data = self.data
        n = len(data)
        while self.pos < n:
            c = data[self.pos]
            self.pos += 1
            if c == _DQUOTE:
                return bytes(out)
            if c == _BACKSLASH:
                if self.pos >= n or data[self.pos] not in (_DQUOTE, _BACKSLASH):
                    raise ParseError("quoted-specials")
                out.append(data[self.pos])
                self.pos += 1
            elif c in (0x00, 0x0A, 0x0D):
                raise ParseError("QUOTED-CHAR")
            else:
                out.append(c)
        raise ParseError("DQUOTE")

    def literal(self, *, allow8: bool = False) -> tuple[bytes, bool]:
        """``literal`` / ``literal8`` (RFC 3516 ``~{n}``), sync or LITERAL+ ``{n+}``.

        Returns ``(bytes, is_literal8)``. The framer already checked that ``n`` bytes follow.
        """
        binary = False
        if self.peek() == ord("~"):
            if not allow8:
                raise ParseError("literal")
            binary = True
            self.pos += 1
        self.expect(b"{", "literal")
        size = self.number(what="literal")
        self.accept(b"+")
        self.expect(b"}\r\n", "literal")
        end = self.pos + size
        if end > len(self.data):
            raise ParseError("literal")
        value = self.data[self.pos : end]
        self.pos = end
        if not binary and b"\x00" in value:
            raise ParseError("CHAR8")
        return value, binary

    def string(self) -> bytes:
        c = self.peek()
        if c == _DQUOTE:
            return self.quoted()
        if c == ord("{"):
            return self.literal()[0]
        raise ParseError("string")

    def astring(self, what: str = "astring") -> bytes:
        c = self.peek()
        if c in (_DQUOTE, ord("{")):
            return self.string()
        raw = self._run(ASTRING_CHARS)
        if not raw:
            raise ParseError(what)
        return raw

    def nstring(self) -> bytes | None:
        if self.accept_word("NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> bytes:
        """``list-mailbox = 1*list-char / string`` (may hold ``%`` and ``*``)."""
        c = self.peek()
        if c in (_DQUOTE, ord("{")):
            return self.string()
        raw = self._run(LIST_CHARS)
        if not raw:
            raise ParseError("list-mailbox")
        return raw

    # -- flags -----------------------------------------------------------------------------
    def flag(self) -> str:
        """``flag`` (system ``\\Seen``... or keyword atom); ``\\*`` only where the caller allows."""
        if self.accept(b"\\"):
            if self.accept(b"*"):
                return "\\*"
            return "\\" + self.atom("flag")
        return self.atom("flag-keyword")

    def flag_list(self) -> tuple[str, ...]:
        self.expect(b"(", "flag-list")
        flags: list[str] = []
        if not self.accept(b")"):
            while True:
                flags.append(self.flag())
                if self.accept(b")"):
                    break
                self.sp()
        return tuple(flags)

    # -- dates -----------------------------------------------------------------------------
    def date(self) -> datetime:
        """``date = date-text / DQUOTE date-text DQUOTE``; ``date-text = d-Mon-yyyy``."""
        quoted = self.accept(b'"')
        day = self.number(what="date-day")
        self.expect(b"-", "date")
        month = self._month()
        self.expect(b"-", "date")
        year = self.number(what="date-year")
        if quoted:
            self.expect(b'"', "DQUOTE")
        try:
            return datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            raise ParseError("date") from None

    def date_time(self) -> datetime:
        """``date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE``."""
        self.expect(b'"', "date-time")
        self.accept_sp()  # date-day-fixed = (SP DIGIT) / 2DIGIT
        day = self.number(what="date-day-fixed")
        self.expect(b"-", "date-time")
        month = self._month()
        self.expect(b"-", "date-time")
        year = self.number(what="date-year")
        self.sp()
        raw = self.data[self.pos : self.pos + 14]
        self.pos += 14
        # "hh:mm:ss +hhmm"
        if (
            len(raw) != 14
            or raw[2:3] != b":"
            or raw[5:6] != b":"
            or raw[8:9] != b" "
            or raw[9:10] not in (b"+", b"-")
            or not (raw[0:2] + raw[3:5] + raw[6:8] + raw[10:14]).isdigit()
        ):
            raise ParseError("time SP zone")
        self.expect(b'"', "DQUOTE")
        offset = timedelta(hours=int(raw[10:12]), minutes=int(raw[12:14]))
        if raw[9:10] == b"-":
            offset = -offset
        try:
            return datetime(
                year,
                month,
                day,
                int(raw[0:2]),
                int(raw[3:5]),
                int(raw[6:8]),
                tzinfo=timezone(offset),
            )
        except ValueError:
            raise ParseError("date-time") from None

    def _month(self) -> int:
        raw = self.data[self.pos : self.pos + 3].upper()
        month = _MONTHS.get(raw.decode("latin-1"))
        if month is None:
            raise ParseError("date-month")
        self.pos += 3
        return month
