"""TOP msg n: the header, the blank line and the first ``n`` body lines (RFC 1939 §7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..maildrop import message_data, parse_number, render_message
from ..proto.parser import Command
from ..proto.wire import top

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    drop = session.require_maildrop()
    if len(command.args) != 2:
        raise ValidationError("pop3.err.syntax")
    item = drop.get(command.args[0])
    lines = parse_number(command.args[1])
    data = top(await message_data(session.deps.reader, drop, item), lines)
    session.send(await render_message(replies.OK_TOP.render(), data))
