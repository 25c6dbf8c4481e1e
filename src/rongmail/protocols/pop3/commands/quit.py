"""QUIT: end the session; in TRANSACTION, enter UPDATE and remove the marked messages
(RFC 1939 §4, §6).

The removal is one action, ``do_destroy_messages`` (one transaction with its change rows, then
published on the bus, so IMAP IDLE and JMAP see it). If it fails the reply is ``-ERR`` with
``[SYS/TEMP]`` and nothing was removed; the connection closes either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions.messages import do_destroy_messages

from .. import replies
from ..base import State
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    session.closing = True
    hostname = session.deps.hostname
    drop = session.maildrop
    if session.state is not State.TRANSACTION or drop is None:
        session.reply(replies.OK_QUIT, hostname=hostname)
        return
    session.state = State.UPDATE
    ids = drop.deleted_ids()
    if ids:
        await do_destroy_messages(session.deps.ctx, drop.account_id, ids)
    session.reply(replies.OK_QUIT_UPDATED, hostname=hostname, count=len(ids))
