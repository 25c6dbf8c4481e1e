"""RSET (RFC 5321 §4.1.1.5): abort the transaction; greeting, TLS and AUTH stay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    if arg:
        raise ReplyError(codes.R501_SYNTAX)
    s.reset_transaction()
    return codes.R250_RESET
