"""Sans-IO IMAP protocol core: framing and grammar (``parser``, ``grammar``, ``cursor``),
typed commands (``commands``, ``fetch``, ``search``, ``sequence``), parser events
(``events``), the response serializer (``response``) and modified UTF-7 (``mutf7``).

No module here performs I/O, reads the clock or imports anything outside the standard library
and this package; every function is a pure transformation tested with bytes in, values out.
"""

from .commands import Command
from .events import ContinuationRequest, Event, IdleDone, Rejected, SaslResponse
from .parser import CommandParser, Limits

__all__ = [
    "Command",
    "CommandParser",
    "ContinuationRequest",
    "Event",
    "IdleDone",
    "Limits",
    "Rejected",
    "SaslResponse",
]
