"""APPEND, with MULTIAPPEND, BINARY literal8, UTF8 data and APPENDUID (RFC 9051 §6.3.12,
RFC 3502, RFC 3516 §4.4, RFC 6855 §4, RFC 4315 §3, RFC 7889 APPENDLIMIT).

Invariants: each message is stored by ``actions.messages.do_append_message`` (parsed off the
event loop, blob fsynced, metadata and change log in one transaction); a missing target gets
``NO [TRYCREATE]``; the literal size was already bounded by the parser (APPENDLIMIT).

Known limit: MULTIAPPEND is not atomic (each message commits on its own); RFC 3502 §6.3.11
asks for all-or-nothing. A store op appending several messages in one transaction would fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg
from rongmail.core.flags import split_flags

from ..base import Ok
from ..proto import commands as c
from ..proto.sequence import SequenceSet
from ..replies import NoCommand

if TYPE_CHECKING:
    from ..session import Session


async def append(s: Session, cmd: c.Append) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="TRYCREATE", name=cmd.mailbox)
    uids: list[int] = []
    uidvalidity = node.mailbox.uidvalidity
    for m in cmd.messages:
        bits, keywords = split_flags([f for f in m.flags if f.lower() != "\\recent"])
        when = int(m.internal_date.timestamp()) if m.internal_date else None
        result = await msg.do_append_message(
            s.deps.ctx,
            s.account_id,
            [node.mailbox.id],
            m.data,
            flags=bits,
            keywords=keywords,
            received_at=when,
        )
        uids.append(result.uid)
        uidvalidity = result.uidvalidity
    return Ok(code=f"APPENDUID {uidvalidity} {SequenceSet.of(uids)}")
