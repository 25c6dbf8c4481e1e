"""Sans-IO SMTP wire parser: ``Parser.feed(bytes) -> list[Event]``.

The parser splits the byte stream into command lines, DATA content and BDAT chunks. It owns the
three framing rules whose mistakes become security bugs:

* **Command lines** end in CRLF (RFC 5321 §2.3.8). A bare LF or a CR inside a line yields
  :class:`InvalidLineEnding` instead of a command; a line longer than ``max_line`` octets
  (RFC 5321 §4.5.3.1.4) yields :class:`LineTooLong`. Memory stays bounded: an over-long line is
  discarded while it streams.
* **DATA** (RFC 5321 §4.1.1.4, §4.5.2) ends only at ``<CRLF>.<CRLF>``. ``<LF>.<LF>``,
  ``<LF>.<CR><LF>``, ``<CR>.<CR>`` and friends are content, never a terminator, so a second
  message can never be smuggled into this one (CVE-2023-51766 class); any bare CR or LF marks the
  message so the session rejects it whole (:attr:`DataEnd.bare_line_ending`). Leading dots are
  unstuffed. Content is emitted as it arrives; at most ``data_chunk`` octets of one unfinished
  line are held.
* **BDAT** (RFC 3030 §2): after a well-formed ``BDAT <size> [LAST]`` line exactly ``size`` octets
  are content, whatever the session replies, then :class:`ChunkEnd`.

Barriers: the meaning of the bytes after ``DATA`` depends on the reply (354 or an error), and
bytes after ``STARTTLS`` must be thrown away once TLS starts (RFC 3207 §4.2, CVE-2011-0411). So
``feed`` stops after emitting either command and returns nothing more until the session calls
:meth:`Parser.accept_data`, :meth:`Parser.resume` or :meth:`Parser.discard_buffer`; then
``feed(b"")`` yields the events still buffered. Every other command may be pipelined freely
(RFC 2920).
"""

from __future__ import annotations

import enum

from rongmail.protocols.smtp.proto.command import parse_bdat_args
from rongmail.protocols.smtp.proto.events import (
    ChunkEnd,
    CommandLine,
    DataChunk,
    DataEnd,
    Event,
    InvalidLineEnding,
    LineTooLong,
)

_TERMINATOR = b"\r\n.\r\n"
_BARRIER_VERBS = frozenset({b"DATA", b"STARTTLS"})


class _Mode(enum.Enum):
    COMMAND = enum.auto()
    SKIP_LINE = enum.auto()  # discarding an over-long command line up to its LF
    DATA = enum.auto()
    CHUNK = enum.auto()


class Parser:
    """Incremental parser for one connection (one per TLS layer)."""

    def __init__(self, *, max_line: int = 12288, data_chunk: int = 65536) -> None:
        if max_line < 512 or data_chunk < 1024:
            raise ValueError("max_line must be >= 512 (RFC 5321 §4.5.3.1.4), data_chunk >= 1024")
        self.max_line = max_line
        self.data_chunk = data_chunk
        self._buf = bytearray()
        self._mode = _Mode.COMMAND
        self._blocked = False
        self._bol = True  # DATA: the last consumed octets were CRLF (or nothing yet)
        self._bare = False  # DATA: a bare CR or LF was seen in this message
        self._chunk_left = 0

    # -- session controls --------------------------------------------------------------------

    @property
    def blocked(self) -> bool:
        """True after a barrier command until the session decides how to continue."""
        return self._blocked

    @property
    def buffered(self) -> int:
        """Octets received but not yet turned into events."""
        return len(self._buf)

    def accept_data(self) -> None:
        """The session answered 354 to DATA: what follows is message content."""
        self._blocked = False
        self._mode = _Mode.DATA
        self._bol = True
        self._bare = False

    def resume(self) -> None:
        """Continue in command mode after a barrier (DATA refused, STARTTLS refused)."""
        self._blocked = False

    def discard_buffer(self) -> int:
        """Drop everything buffered (STARTTLS accepted, RFC 3207 §4.2); returns the octet count."""
        n = len(self._buf)
        self._buf.clear()
        self._blocked = False
        self._mode = _Mode.COMMAND
        return n

    # -- input -------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Buffer ``data`` and return every event that is now complete."""
        if data:
            self._buf += data
        events: list[Event] = []
        while not self._blocked and self._buf:
            if self._mode is _Mode.COMMAND:
                if not self._command(events):
                    break
            elif self._mode is _Mode.SKIP_LINE:
                if not self._skip(events):
                    break
            elif self._mode is _Mode.DATA:
                if not self._data(events):
                    break
            elif not self._chunk(events):
                break
        return events

    # -- modes: each returns False when it needs more input ----------------------------------

    def _command(self, events: list[Event]) -> bool:
        buf = self._buf
        nl = buf.find(b"\n", 0, self.max_line + 1)
        if nl < 0:
            if len(buf) > self.max_line:
                self._mode = _Mode.SKIP_LINE
                return True
            return False
        line = bytes(buf[: nl + 1])
        del buf[: nl + 1]
        if not line.endswith(b"\r\n") or line.count(b"\r") != 1:
            events.append(InvalidLineEnding())
            return True
        body = line[:-2]
        events.append(CommandLine(body))
        verb = body.split(b" ", 1)[0].upper()
        if verb in _BARRIER_VERBS:
            self._blocked = True
        elif verb == b"BDAT":
            parsed = parse_bdat_args(body[5:].decode("ascii", "replace"))
            if parsed is not None and parsed[0] == 0:
                events.append(ChunkEnd())  # "BDAT 0 LAST" ends with its own line
            elif parsed is not None:
                self._chunk_left = parsed[0]
                self._mode = _Mode.CHUNK
        return True

    def _skip(self, events: list[Event]) -> bool:
        nl = self._buf.find(b"\n")
        if nl < 0:
            self._buf.clear()
            return False
        del self._buf[: nl + 1]
        self._mode = _Mode.COMMAND
        events.append(LineTooLong())
        return True

    def _data(self, events: list[Event]) -> bool:
        buf = self._buf
        if self._bol and buf[:3] == b".\r\n":
            self._end_data(events, 3)
            return True
        end = buf.find(_TERMINATOR)
        if end >= 0:
            self._emit_lines(events, bytes(buf[: end + 2]))
            self._end_data(events, end + 5)
            return True
        last_nl = buf.rfind(b"\n")
        if last_nl >= 0:
            region = bytes(buf[: last_nl + 1])
            del buf[: last_nl + 1]
            self._emit_lines(events, region)
            return True
        if len(buf) > self.data_chunk:
            # one very long line: pass it on, keeping the last octet (it may be the CR of CRLF)
            part = bytes(buf[:-1])
            del buf[:-1]
            if b"\r" in part:  # no LF in the buffer, so every CR in ``part`` is bare
                self._bare = True
            if self._bol and part[:1] == b".":
                part = part[1:]
            self._bol = False
            if part:
                events.append(DataChunk(part))
        return False

    def _emit_lines(self, events: list[Event], region: bytes) -> None:
        """``region`` holds whole lines (it ends in LF, or is empty)."""
        if not region:
            return
        crlf = region.count(b"\r\n")
        if crlf != region.count(b"\n") or crlf != region.count(b"\r"):
            self._bare = True
        if self._bol and region[:1] == b".":
            region = region[1:]
        region = region.replace(b"\r\n.", b"\r\n")
        self._bol = region.endswith(b"\r\n")
        if region:
            events.append(DataChunk(region))

    def _end_data(self, events: list[Event], consumed: int) -> None:
        del self._buf[:consumed]
        events.append(DataEnd(bare_line_ending=self._bare))
        self._mode = _Mode.COMMAND
        self._bol = True
        self._bare = False

    def _chunk(self, events: list[Event]) -> bool:
        take = min(self._chunk_left, len(self._buf))
        if take:
            events.append(DataChunk(bytes(self._buf[:take])))
            del self._buf[:take]
            self._chunk_left -= take
        if self._chunk_left == 0:
            events.append(ChunkEnd())
            self._mode = _Mode.COMMAND
            return True
        return False


class LineEndingCheck:
    """Detects bare CR or LF across arbitrarily split content (BDAT chunks, RFC 3030 §2).

    Without BINARYMIME (which RongMail does not offer) BDAT content is still CRLF-delimited text;
    refusing bare line endings keeps such a message from becoming a smuggling payload when it is
    later relayed with DATA.
    """

    __slots__ = ("_pending_cr", "bare")

    def __init__(self) -> None:
        self._pending_cr = False
        self.bare = False

    def update(self, data: bytes) -> None:
        if self.bare or not data:
            return
        if self._pending_cr:
            if data[:1] != b"\n":
                self.bare = True
                return
            data = data[1:]
            self._pending_cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._pending_cr = True
        crlf = data.count(b"\r\n")
        if crlf != data.count(b"\n") or crlf != data.count(b"\r"):
            self.bare = True

    def finish(self) -> bool:
        """True when the content so far is clean (no bare CR or LF, not ending in CR)."""
        if self._pending_cr:
            self.bare = True
        return not self.bare
