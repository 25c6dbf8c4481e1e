"""RSET: unmark every message marked as deleted in this session (RFC 1939 §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    if command.args:
        raise ValidationError("pop3.err.syntax")
    drop = session.require_maildrop()
    drop.reset()
    count, octets = drop.stat()
    session.reply(replies.OK_RSET, count=count, octets=octets)
