"""QUIT: end the session; in TRANSACTION, enter UPDATE and remove the marked messages
(RFC 1939 §4, §6).

The removal is one action, ``do_remove_from_mailbox`` on the inbox only (the RFC 1939 maildrop
is the inbox: an email also filed in another mailbox stays there), one transaction with its
change rows, then published on the bus, so IMAP IDLE and JMAP see it. If it fails the reply is ``-ERR`` with
``[SYS/TEMP]`` and nothing was removed; the connection closes either way. Before it, the kept
messages RETR sent are flagged ``\\Seen`` (``do_set_flags``) when ``mark_seen`` is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions.messages import do_remove_from_mailbox, do_set_flags
from rongmail.core.flags import SEEN

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
    ctx = session.deps.ctx
    read = drop.newly_read_ids()
    if read and session.deps.settings.mark_seen:
        await do_set_flags(ctx, drop.account_id, read, add=SEEN)
    uids = drop.deleted_uids()
    if uids:
        await do_remove_from_mailbox(ctx, drop.account_id, drop.mailbox_id, uids)
    session.reply(replies.OK_QUIT_UPDATED, hostname=hostname, count=len(uids))
