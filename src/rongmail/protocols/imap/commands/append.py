"""APPEND, with MULTIAPPEND, BINARY literal8, UTF8 data and APPENDUID (RFC 9051 §6.3.12,
RFC 3502, RFC 3516 §4.4, RFC 6855 §4, RFC 4315 §3, RFC 7889 APPENDLIMIT).

Invariants: all messages of one command are stored by one
``actions.messages.do_append_messages`` call (parsed off the event loop, blobs written, then
metadata and change log for every message in ONE transaction), so a MULTIAPPEND either stores
every message or none (RFC 3502 §6.3.11); a missing target gets ``NO [TRYCREATE]``; appending
to a shared mailbox needs ``i`` and keeps only the flags the user may set (RFC 4314 §4); the
literal size was already bounded by the parser (APPENDLIMIT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg
from rongmail.core.flags import DELETED, SEEN, split_flags

from ..base import Ok
from ..proto import commands as c
from ..proto.sequence import SequenceSet
from ..replies import NoCommand
from .acl import require

if TYPE_CHECKING:
    from ..session import Session


def _allowed(rights: str, bits: int, keywords: frozenset[str]) -> tuple[int, frozenset[str]]:
    """RFC 4314 §4 APPEND: flags the user may not set are dropped, not refused."""
    if "s" not in rights:
        bits &= ~SEEN
    if "t" not in rights:
        bits &= ~DELETED
    if "w" not in rights:
        return bits & (SEEN | DELETED), frozenset()
    return bits, keywords


async def append(s: Session, cmd: c.Append) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="TRYCREATE", name=cmd.mailbox)
    require(node, "i")
    batch = []
    for m in cmd.messages:
        bits, keywords = split_flags([f for f in m.flags if f.lower() != "\\recent"])
        bits, keywords = _allowed(node.rights, bits, keywords)
        when = int(m.internal_date.timestamp()) if m.internal_date else None
        batch.append(msg.NewAppend(m.data, bits, keywords, when))
    results = await msg.do_append_messages(
        s.deps.ctx, node.mailbox.account_id, node.mailbox.id, batch
    )
    uidvalidity = results[-1].uidvalidity if results else node.mailbox.uidvalidity
    uids = [r.uid for r in results]
    return Ok(code=f"APPENDUID {uidvalidity} {SequenceSet.of(uids)}")
