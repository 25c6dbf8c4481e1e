"""LIST [msg]: scan listings ``<number> <octets>`` (RFC 1939 §5).

Sizes are canonical wire sizes (CRLF line ends, before byte-stuffing), equal to what RETR sends.
Messages marked as deleted are not listed; asking for one is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto.parser import Command
from ..proto.wire import multiline, status

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    drop = session.require_maildrop()
    if len(command.args) > 1:
        raise ValidationError("pop3.err.syntax")
    if command.args:
        item = drop.get(command.args[0])
        session.send(status(True, f"{item.number} {item.size}"))
        return
    count, octets = drop.stat()
    head = replies.OK_SCAN.render(count=count, octets=octets)
    session.send(multiline(head, (f"{i.number} {i.size}" for i in drop.live())))
