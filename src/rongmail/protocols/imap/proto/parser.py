"""The sans-IO IMAP command parser: ``feed(bytes) -> list[Event]``.

Role: frame the client's byte stream into whole commands (lines plus literals, RFC 9051 §4.3,
RFC 7888 LITERAL+) and hand each to :func:`.grammar.parse_command`. It also reads the two
non-command line forms the session switches it into: the ``DONE`` that ends IDLE and the client
lines of an AUTHENTICATE exchange.

Invariants (the limits in :class:`Limits`):

* Memory is bounded: a line longer than ``max_line`` is skipped as it arrives (only a short tail
  is kept to see a trailing literal marker), a literal larger than its limit is never stored,
  and a command is never larger than ``max_command`` (``max_append_command`` for APPEND).
* A synchronizing literal ``{n}`` yields :class:`ContinuationRequest` only if it will be
  accepted; otherwise the command is rejected at once (RFC 9051 §7.5 lets the server answer
  the command instead of ``+``). A too-large non-synchronizing literal ``{n+}`` is read and
  discarded, then the command is rejected (RFC 7888 §4).
* One :meth:`feed` call returns at most ``max_pipelined`` commands, and stops right after a
  command that changes how the following bytes must be read (STARTTLS, AUTHENTICATE, IDLE,
  COMPRESS, LOGOUT). The rest stays buffered; call ``feed(b"")`` to continue, after switching
  mode if needed. The shell reads more from the socket only when ``feed`` returns nothing, so
  a client that pipelines without limit is slowed by TCP, not by our memory.
* No input makes :meth:`feed` raise or loop without consuming bytes; malformed input becomes a
  :class:`Rejected` event.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Literal

from . import commands as c
from .cursor import TAG_CHARS, ParseError
from .events import ContinuationRequest, Event, IdleDone, Rejected, SaslResponse
from .grammar import parse_command

__all__ = ["CommandParser", "Limits"]

_LITERAL_SUFFIX: Final = re.compile(rb"~?\{([0-9]{1,20})(\+?)\}\r\n\Z")
_APPEND: Final = re.compile(rb"[^ ]+ APPEND ", re.IGNORECASE)
_BARRIERS: Final = (c.StartTls, c.Authenticate, c.Idle, c.Compress, c.Logout, SaslResponse)
_TAIL: Final = 32


class _Progress:
    """Returned by a step that consumed input but has no event yet (a ``{n+}`` marker)."""


_PROGRESS: Final = _Progress()


@dataclass(frozen=True, slots=True)
class Limits:
    max_line: int = 64 * 1024  # one line, literals excluded (RFC 7162 §4 asks for >= 8192)
    max_literal: int = 64 * 1024  # a literal outside APPEND
    max_command: int = 1024 * 1024  # a whole command outside APPEND
    max_append: int = 64 * 1024 * 1024  # one APPEND message (advertised as APPENDLIMIT)
    max_append_command: int = 256 * 1024 * 1024  # a whole (MULTI)APPEND
    max_pipelined: int = 64  # commands returned by one feed()


class CommandParser:
    """Feed bytes, get events. Not thread-safe; one per connection."""

    def __init__(self, limits: Limits | None = None, *, utf8: bool = False) -> None:
        self.limits = limits or Limits()
        #: Mailbox names are UTF-8 (set once UTF8=ACCEPT or IMAP4rev2 is enabled).
        self.utf8 = utf8
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already known to hold no CRLF
        self._cmd = bytearray()  # the command collected so far
        self._head = b""  # the first bytes of the command (for its tag)
        self._append = False
        self._literal_left = 0  # literal bytes still to read into _cmd
        self._skip_left = 0  # literal bytes still to discard
        self._skipping_line = False  # discarding an over-long line up to its CRLF
        self._tail = b""  # the last bytes of a skipped line (literal marker detection)
        self._reject: Rejected | None = None  # the answer once the discarded command ends
        self._mode = "command"  # "command" | "idle" | "sasl"

    # -- mode switches (called by the session) ---------------------------------------------
    def expect_idle_done(self) -> None:
        """The next line ends IDLE (RFC 9051 §6.3.13)."""
        self._mode = "idle"

    def expect_sasl_response(self) -> None:
        """The next line is an AUTHENTICATE response (RFC 9051 §6.2.2)."""
        self._mode = "sasl"

    def take_buffered(self) -> bytes:
        """Remove and return the bytes not parsed yet.

        After STARTTLS they must be dropped (plaintext injected before the handshake, see
        CVE-2011-0411); after COMPRESS they are compressed data to run through the inflater.
        """
        out = bytes(self._buf)
        self._buf.clear()
        self._scan = 0
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        if data:
            self._buf += data
        events: list[Event] = []
        commands = 0
        while commands < self.limits.max_pipelined:
            event = self._step()
            if event is None:
                break
            if isinstance(event, _Progress):
                continue
            events.append(event)
            if isinstance(event, c.Command | SaslResponse):
                commands += 1
            if isinstance(event, _BARRIERS):
                break
        return events

    def _take_line(self) -> bytes | None:
        """Pop one CRLF-terminated line from the buffer, or None if incomplete."""
        idx = self._buf.find(b"\r\n", self._scan)
        if idx < 0:
            self._scan = max(0, len(self._buf) - 1)
            return None
        line = bytes(self._buf[: idx + 2])
        del self._buf[: idx + 2]
        self._scan = 0
        return line

    def _step(self) -> Event | _Progress | None:
        if self._skip_left:
            n = min(self._skip_left, len(self._buf))
            del self._buf[:n]
            self._skip_left -= n
            if self._skip_left:
                return None
        if self._literal_left:
            n = min(self._literal_left, len(self._buf))
            self._cmd += self._buf[:n]
            del self._buf[:n]
            self._literal_left -= n
            if self._literal_left:
                return None
        if self._skipping_line:
            return self._skip_line()
        line = self._take_line()
        if line is None:
            if len(self._buf) > self.limits.max_line:
                self._start_skip(self._tag_source() if self._mode == "command" else b"")
                return self._skip_line()
            return None
        if self._mode == "idle":
            self._mode = "command"
            return IdleDone(line[:-2].upper() == b"DONE")
        if self._mode == "sasl":
            self._mode = "command"
            return _sasl(line[:-2])
        if len(line) > self.limits.max_line + 2:
            if not self._cmd and self._reject is None:
                self._head = line[:64]
            if self._reject is None:
                self._reject = self._rejection("imap.bad.line_too_long")
            return self._line_done(line[-_TAIL:], stored=False)
        if not self._cmd:
            self._head = line[:64]
            self._append = bool(_APPEND.match(line))
        if self._reject is None:
            self._cmd += line
        return self._line_done(line, stored=self._reject is None)

    def _tag_source(self) -> bytes:
        return self._head if self._cmd or self._reject else bytes(self._buf[:64])

    def _start_skip(self, head: bytes) -> None:
        """Begin discarding an over-long line; the command will be rejected."""
        if not self._cmd and self._reject is None:
            self._head = head
        if self._reject is None:
            self._reject = self._rejection("imap.bad.line_too_long")
        self._cmd.clear()
        self._skipping_line = True
        self._tail = b""
        self._scan = 0

    def _skip_line(self) -> Event | _Progress | None:
        idx = self._buf.find(b"\r\n")
        if idx < 0:
            # Drop what we have, but keep a final '\r' that may start the CRLF.
            keep = b"\r" if self._buf.endswith(b"\r") else b""
            self._tail = (self._tail + bytes(self._buf[: len(self._buf) - len(keep)]))[-_TAIL:]
            self._buf[:] = keep
            return None
        tail = (self._tail + bytes(self._buf[: idx + 2]))[-_TAIL:]
        del self._buf[: idx + 2]
        self._skipping_line = False
        if self._mode != "command":  # an over-long IDLE/SASL line
            mode, self._mode = self._mode, "command"
            self._reject = None
            return IdleDone(False) if mode == "idle" else SaslResponse(valid=False)
        return self._line_done(tail, stored=False)

    def _line_done(self, line: bytes, *, stored: bool) -> Event | _Progress:
        """A line of the current command ended; look for a literal marker."""
        m = _LITERAL_SUFFIX.search(line) if line.endswith(b"}\r\n") else None
        if m is None:
            return self._command_done()
        size = int(m.group(1))
        sync = not m.group(2)
        limit = self.limits.max_append if self._append else self.limits.max_literal
        total = self.limits.max_append_command if self._append else self.limits.max_command
        if self._reject is None:
            if size > limit:
                key = "imap.no.too_big" if self._append else "imap.bad.literal_too_large"
                self._reject = self._rejection(
                    key,
                    status="NO" if self._append else "BAD",
                    code="TOOBIG" if self._append else None,
                )
            elif len(self._cmd) + size > total:
                self._reject = self._rejection("imap.bad.command_too_large")
        if self._reject is not None:
            if sync:  # the client waits for "+": answer the command instead (RFC 9051 §7.5)
                return self._finish_rejected()
            self._skip_left = size
            return _PROGRESS
        if stored:
            self._literal_left = size
        return ContinuationRequest() if sync else _PROGRESS

    def _command_done(self) -> Event:
        if self._reject is not None:
            return self._finish_rejected()
        data = bytes(self._cmd)
        self._cmd.clear()
        try:
            return parse_command(data, utf8=self.utf8)
        except ParseError as exc:
            return Rejected(_tag(data), exc.key, exc.detail, exc.status, exc.code)

    def _finish_rejected(self) -> Rejected:
        rejected = self._reject or self._rejection("imap.bad.syntax")
        self._reject = None
        self._cmd.clear()
        self._skip_left = 0
        self._literal_left = 0
        return rejected

    def _rejection(
        self, key: str, *, status: Literal["BAD", "NO"] = "BAD", code: str | None = None
    ) -> Rejected:
        return Rejected(_tag(self._head), key, "", status, code)


def _tag(data: bytes) -> str | None:
    """The command's tag if it has a syntactically valid one followed by SP."""
    end = 0
    while end < len(data) and end < 64 and data[end] in TAG_CHARS:
        end += 1
    if end == 0 or data[end : end + 1] != b" ":
        return None
    return data[:end].decode("ascii")


def _sasl(line: bytes) -> SaslResponse:
    if line == b"*":
        return SaslResponse(cancelled=True)
    try:
        return SaslResponse(base64.b64decode(line, validate=True))
    except (binascii.Error, ValueError):
        return SaslResponse(valid=False)
