"""The POP3 command parser, sans-IO: ``Parser.feed(bytes) -> list[Event]`` (RFC 1939 §3).

A command is a keyword of three or four printable ASCII characters, case-insensitive, followed
by arguments separated by a space and ended by CRLF (RFC 1939 §3); a lone LF is accepted as a
line end too, as every deployed server does. RFC 2449 §4 raises the line limit to 255 octets,
and SASL responses (RFC 5034 §4) can be longer still, so the limit is a parameter.

Invariants:

* Memory is bounded by ``max_line``: a line that grows beyond it is dropped up to its LF and
  reported once as a :class:`BadLine` with reason ``too_long``; the parser then resynchronises
  on the next line.
* Every line yields exactly one event, in order (an over-long line when it crosses the limit),
  so pipelined commands (RFC 2449 §6.6) are answered in order.
* The parser never raises on any input.

A :class:`Command` keeps the whole line text as ``line``: during a SASL exchange the session
reads the client's base64 response from it, and PASS takes everything after the keyword (the
password may contain spaces, RFC 1939 §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: RFC 2449 §4: "Keywords and arguments are each separated by a single SPACE character" and a
#: command line is at most 255 octets; we accept longer lines for SASL up to ``max_line``.
DEFAULT_MAX_LINE: Final = 8192


@dataclass(frozen=True, slots=True)
class Command:
    """One command line: ``verb`` upper-cased, ``args`` split on spaces, ``rest`` everything
    after the verb and its separating space (PASS, SASL responses), ``line`` the whole text."""

    verb: str
    args: tuple[str, ...]
    rest: str = field(repr=False)
    line: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a command: ``too_long``, ``encoding`` (not UTF-8 or holds NUL) or
    ``syntax`` (empty, or a keyword that is not 3-4 letters)."""

    reason: str
    #: The decoded line when it was decodable (a SASL response may still use it).
    line: str = field(default="", repr=False)


Event = Command | BadLine


def parse_line(raw: bytes) -> Event:
    """Parse one line without its line end."""
    if b"\x00" in raw:
        return BadLine("encoding")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadLine("encoding")
    verb, sep, rest = text.partition(" ")
    if not 3 <= len(verb) <= 4 or not verb.isascii() or not verb.isalpha():
        return BadLine("syntax", text)
    args = tuple(rest.split()) if sep else ()
    return Command(verb.upper(), args, rest if sep else "", text)


class Parser:
    """Split a byte stream into command lines."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data``; return the events of every line it completed."""
        self._buf += data
        events: list[Event] = []
        start = 0
        buf = self._buf
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif end + 1 - start > self.max_line:
                events.append(BadLine("too_long"))
            else:
                stop = end - 1 if end > start and buf[end - 1] == 0x0D else end
                events.append(parse_line(bytes(buf[start:stop])))
            start = end + 1
        del buf[:start]
        if self._skipping:
            buf.clear()  # still inside the over-long line
        elif len(buf) > self.max_line:
            buf.clear()
            self._skipping = True
            events.append(BadLine("too_long"))
        return events

    def take_buffered(self) -> bytes:
        """Remove and return bytes not yet parsed (dropped on STLS, RFC 2595 §4)."""
        out = bytes(self._buf)
        self._buf.clear()
        self._skipping = False
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)
