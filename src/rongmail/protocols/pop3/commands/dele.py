"""DELE msg: mark a message as deleted (RFC 1939 §5).

Only a mark in this session: the message is removed when QUIT enters the UPDATE state, RSET
clears every mark, and a dropped connection removes nothing ("leave a copy on the server").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    drop = session.require_maildrop()
    if len(command.args) != 1:
        raise ValidationError("pop3.err.syntax")
    item = drop.get(command.args[0])
    item.deleted = True
    session.reply(replies.OK_DELE, n=item.number)
