"""UIDL [msg]: unique-id listings ``<number> <uidvalidity>.<uid>`` (RFC 1939 §7).

The ids are stable across sessions and restarts (see ``maildrop.py``), which is what "leave a
copy on the server" clients (Foxmail, fetchmail ``keep``) use to fetch only new messages.
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
        session.send(status(True, f"{item.number} {drop.unique_id(item)}"))
        return
    lines = (f"{i.number} {drop.unique_id(i)}" for i in drop.live())
    session.send(multiline(replies.OK_UIDL.render(), lines))
