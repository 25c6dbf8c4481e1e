"""QUIT (RFC 5321 §4.1.1.10): 221, then close; anything pipelined after it is ignored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    s.closing = True
    s.reset_transaction()
    return codes.R221_BYE.format(hostname=s.hostname)
