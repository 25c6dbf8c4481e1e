"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; RFC 6851 MOVE; RFC 4315 COPYUID).

Invariants: the target must exist (``NO [TRYCREATE]`` otherwise, RFC 9051 §6.4.7); a MOVE is
one write (``do_move_messages``), announced as ``* OK [COPYUID ...]`` followed by the
EXPUNGE/VANISHED responses and the tagged OK (RFC 6851 §4.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg

from ..base import Ok
from ..proto import commands as c
from ..proto.sequence import SequenceSet
from ..replies import NoCommand
from .expunge import announce_expunged

if TYPE_CHECKING:
    from ..session import Session


async def copy(s: Session, cmd: c.Copy) -> Ok:
    view = s.view
    assert view is not None
    if cmd.move and view.readonly:
        raise NoCommand("imap.no.read_only", code="READ-ONLY")
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="TRYCREATE", name=cmd.mailbox)
    target = node.mailbox
    uids = view.resolve(cmd.sequence, uid=cmd.uid, saved=s.saved_search)
    if not uids:
        return Ok()
    uid_of = {view.entries[u].message_id: u for u in uids}
    ctx = s.deps.ctx
    if cmd.move:
        pairs = await msg.do_move_messages(
            ctx, s.account_id, list(uid_of), view.mailbox.id, target.id
        )
    else:
        pairs = await msg.do_copy_messages(ctx, s.account_id, list(uid_of), target.id)
    src = [uid_of[mid] for mid, _ in pairs]
    dst = [uid for _, uid in pairs]
    code = None
    if pairs:
        code = f"COPYUID {target.uidvalidity} {_ordered(src)} {_ordered(dst)}"
    if cmd.move:
        if code:
            s.untagged_status("OK", "imap.ok.moved", code=code)
        if target.id != view.mailbox.id:
            announce_expunged(s, src)
        return Ok()
    return Ok(code=code)


def _ordered(numbers: list[int]) -> str:
    """A uid-set that keeps the pairing order (RFC 4315 §3: the sets correspond in order)."""
    if numbers == sorted(numbers):
        return str(SequenceSet.of(numbers))
    return ",".join(str(n) for n in numbers)
