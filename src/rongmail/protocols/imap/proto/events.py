"""Events other than commands that :class:`~.parser.CommandParser` emits.

Role: everything the session must react to besides a parsed command: a continuation request
for a synchronizing literal, a rejected command (tagged ``BAD``/``NO``), the ``DONE`` that ends
IDLE and the client's lines during an AUTHENTICATE exchange.

Invariants: a :class:`Rejected` carries an i18n key plus an ABNF term (``detail``), never raw
client bytes, so rendering it can never inject CR/LF into the reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .commands import Command

__all__ = ["ContinuationRequest", "Event", "IdleDone", "Rejected", "SaslResponse"]


@dataclass(frozen=True, slots=True)
class ContinuationRequest:
    """Send ``+ <text>`` now: the client waits before sending a synchronizing literal
    (RFC 9051 §4.3, §7.5)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """Answer ``<tag> <status> [<code>] <text>``; ``tag`` is None when none could be read
    (answer ``* BAD``)."""

    tag: str | None
    key: str
    detail: str = ""
    status: Literal["BAD", "NO"] = "BAD"
    code: str | None = None


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The line that ended IDLE (RFC 9051 §6.3.13); ``valid`` is False if it was not ``DONE``."""

    valid: bool = True


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """One client line of an AUTHENTICATE exchange (RFC 9051 §6.2.2).

    ``data`` is the base64-decoded response; ``cancelled`` is True for ``*``; ``valid`` is False
    if the line was not base64.
    """

    data: bytes = b""
    cancelled: bool = False
    valid: bool = True


Event = Command | ContinuationRequest | Rejected | IdleDone | SaslResponse
