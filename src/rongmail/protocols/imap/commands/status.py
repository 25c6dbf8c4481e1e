"""STATUS (RFC 9051 §6.3.11, RFC 7162 §3.1.9 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT, RFC 8474
MAILBOXID), also used by LIST-STATUS.

Invariants: counts come from one grouped query over the account (``mailbox_counts``);
``DELETED`` needs the mailbox listing and is computed only when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.core.flags import DELETED
from rongmail.core.models import Mailbox, MailboxCounts

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom, MailboxName
from ..replies import NoCommand
from .acl import require

if TYPE_CHECKING:
    from ..session import Session


async def status_items(
    s: Session, mb: Mailbox, items: tuple[str, ...], counts: dict[int, MailboxCounts]
) -> list[object]:
    cnt = counts.get(mb.id) or MailboxCounts(mb.id, 0, 0, 0)
    out: list[object] = []
    for item in items:
        value: object
        match item:
            case "MESSAGES":
                value = cnt.total
            case "UNSEEN":
                value = cnt.unseen
            case "SIZE":
                value = cnt.size
            case "RECENT":
                value = 0
            case "UIDNEXT":
                value = mb.uidnext
            case "UIDVALIDITY":
                value = mb.uidvalidity
            case "HIGHESTMODSEQ":
                value = mb.highestmodseq
            case "APPENDLIMIT":
                value = s.options.limits.max_append
            case "MAILBOXID":
                value = [Atom(f"F{mb.id}")]
            case "DELETED":
                entries = await s.deps.reader.mailbox_entries(mb.id)
                value = sum(1 for e in entries if e.flags & DELETED)
            case _:
                continue
        out.extend((Atom(item), value))
    return out


async def status(s: Session, cmd: c.Status) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    require(node, "r")  # RFC 4314 §4
    mb = node.mailbox
    counts = await s.deps.reader.mailbox_counts(mb.account_id)
    items = await status_items(s, mb, cmd.items, counts)
    if "HIGHESTMODSEQ" in cmd.items:
        s.condstore = True  # RFC 7162 §3.1: STATUS HIGHESTMODSEQ enables CONDSTORE
    s.untagged(Atom("STATUS"), MailboxName(cmd.mailbox), items)
    return Ok()
