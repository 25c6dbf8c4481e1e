"""RETR msg: the whole message as a multi-line response (RFC 1939 §5).

The message is sent in canonical form (CRLF line ends) and byte-stuffed; the octet count in the
``+OK`` line and in LIST is the canonical size before stuffing. The message is remembered as
retrieved; QUIT flags it ``\\Seen`` (``quit.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..maildrop import message_data, render_message
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    drop = session.require_maildrop()
    if len(command.args) != 1:
        raise ValidationError("pop3.err.syntax")
    item = drop.get(command.args[0])
    data = await message_data(session.deps.reader, drop, item)
    session.send(await render_message(replies.OK_RETR.render(octets=len(data)), data))
    item.retrieved = True
