"""Per-transaction state of an SMTP session (RFC 5321 §3.3): MAIL, RCPTs, the message body.

Kept apart from ``session.py`` so command modules can use these types without importing the
session (which imports the dispatch table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rongmail.pipeline.envelope import Recipient
from rongmail.protocols.smtp.codes import Reply
from rongmail.protocols.smtp.proto.params import MailParams
from rongmail.protocols.smtp.proto.parser import LineEndingCheck


@dataclass(slots=True)
class Transaction:
    """One mail transaction, from MAIL to the end of DATA/BDAT LAST or RSET (RFC 5321 §3.3)."""

    mail_from: str
    params: MailParams
    rcpts: list[Recipient] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    size: int = 0
    too_big: bool = False
    used_bdat: bool = False
    line_check: LineEndingCheck = field(default_factory=LineEndingCheck)


@dataclass(slots=True)
class PendingChunk:
    """A BDAT chunk being read; ``refusal`` is sent after its octets instead of 250."""

    size: int
    last: bool
    refusal: Reply | None
