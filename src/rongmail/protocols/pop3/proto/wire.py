"""POP3 responses on the wire, sans-IO (RFC 1939 §3, RFC 2449 §8).

* A status line is ``+OK`` or ``-ERR``, optionally a response code in brackets (RFC 2449 §8),
  then text, then CRLF. Text is made single-line and printable ASCII here, whatever the caller
  passes, so no reply can break the framing.
* A multi-line response ends with ``.CRLF``; each line starting with ``.`` gets one more ``.``
  (byte-stuffing, RFC 1939 §3).
* Messages are sent in canonical form: every line ends with CRLF (a bare LF or bare CR becomes
  CRLF) and the last line is terminated. The size in LIST and STAT (RFC 1939 §5, "exact size")
  is the length of that canonical form *before* byte-stuffing, so it equals what a client has
  after un-stuffing RETR; :func:`wire_size` computes it and :func:`canonical` produces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

CRLF: Final = b"\r\n"
END: Final = b".\r\n"
_EOL = re.compile(rb"\r\n|\r|\n")
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def _clean(text: str) -> str:
    return _UNSAFE.sub("?", text)


def status(ok: bool, text: str = "", *, code: str | None = None) -> bytes:
    """``+OK [CODE] text`` / ``-ERR [CODE] text`` with CRLF."""
    parts = ["+OK" if ok else "-ERR"]
    if code:
        parts.append(f"[{_clean(code)}]")
    if text:
        parts.append(_clean(text))
    return (" ".join(parts)).encode("ascii") + CRLF


def multiline(head: bytes, lines: Iterable[str]) -> bytes:
    """A status line ``head`` followed by text lines (stuffed) and the terminator."""
    out = bytearray(head)
    for line in lines:
        data = _clean(line).encode("ascii")
        if data.startswith(b"."):
            out += b"."
        out += data + CRLF
    out += END
    return bytes(out)


def canonical(raw: bytes) -> bytes:
    """The message with CRLF line ends and a terminated last line (not stuffed)."""
    if not raw:
        return b""
    out = _EOL.sub(CRLF, raw)
    if not out.endswith(CRLF):
        out += CRLF
    return out


def wire_size(raw: bytes) -> int:
    """``len(canonical(raw))`` without building the copy when the input is already canonical."""
    if not raw:
        return 0
    lf = raw.count(b"\n")
    cr = raw.count(b"\r")
    crlf = raw.count(CRLF)
    # each bare LF and bare CR grows by one octet; a missing final line end adds two
    size = len(raw) + (lf - crlf) + (cr - crlf)
    if not (raw.endswith(b"\n") or raw.endswith(b"\r")):
        size += 2
    return size


def stuff(data: bytes) -> bytes:
    """Byte-stuff canonical message data (RFC 1939 §3): a leading ``.`` becomes ``..``."""
    out = data.replace(b"\r\n.", b"\r\n..")
    if out.startswith(b"."):
        out = b"." + out
    return out


def message_response(head: bytes, data: bytes) -> bytes:
    """A multi-line response carrying canonical message ``data`` (RETR, TOP)."""
    return head + stuff(data) + END


def top(data: bytes, lines: int) -> bytes:
    """Canonical ``data`` cut to the header, the blank line and ``lines`` body lines
    (RFC 1939 §7 TOP). Without a blank line the whole message is header."""
    sep = data.find(b"\r\n\r\n")
    if sep < 0 and data.startswith(CRLF):
        sep = -2  # empty header: the body starts after the first CRLF
    elif sep < 0:
        return data
    body_start = sep + 4
    pos = body_start
    for _ in range(lines):
        nxt = data.find(CRLF, pos)
        if nxt < 0:
            return data
        pos = nxt + 2
    return data[:pos]
