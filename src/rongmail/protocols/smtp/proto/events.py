"""Events produced by :class:`rongmail.protocols.smtp.proto.parser.Parser`.

Each event is an immutable value. Command-mode events carry one line without its CRLF; DATA and
BDAT content arrives as a sequence of :class:`DataChunk` followed by exactly one terminator event
(:class:`DataEnd` for DATA, RFC 5321 §4.1.1.4; :class:`ChunkEnd` for BDAT, RFC 3030 §2).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One command line (or SASL response line), CRLF removed, no CR or LF inside."""

    line: bytes


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line exceeded the limit (RFC 5321 §4.5.3.1.4); it was discarded up to its LF."""


@dataclass(frozen=True, slots=True)
class InvalidLineEnding:
    """A command line ended in a bare LF or held a bare CR; it was discarded (RFC 5321 §2.3.8)."""


@dataclass(frozen=True, slots=True)
class DataChunk:
    """Message content: dot-unstuffed for DATA (RFC 5321 §4.5.2), raw octets for BDAT."""

    data: bytes


@dataclass(frozen=True, slots=True)
class DataEnd:
    """``<CRLF>.<CRLF>`` was seen. ``bare_line_ending`` is true when the content held a CR or LF
    that was not part of a CRLF pair; such a message must be rejected, never split
    (SMTP smuggling, CVE-2023-51766)."""

    bare_line_ending: bool


@dataclass(frozen=True, slots=True)
class ChunkEnd:
    """All octets announced by the last ``BDAT <size>`` were read (RFC 3030 §2)."""


Event = CommandLine | LineTooLong | InvalidLineEnding | DataChunk | DataEnd | ChunkEnd
