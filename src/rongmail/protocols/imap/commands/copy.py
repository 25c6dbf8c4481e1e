"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; RFC 6851 MOVE; RFC 4315 COPYUID).

Invariants: the target must exist (``NO [TRYCREATE]`` otherwise, RFC 9051 §6.4.7); a MOVE is
one write (``do_move_messages``), announced as ``* OK [COPYUID ...]`` followed by the
EXPUNGE/VANISHED responses and the tagged OK (RFC 6851 §4.3).

Shared mailboxes (RFC 4314 §4): the target needs ``i``; a MOVE also needs ``t`` and ``e`` on
the source. Between two accounts (one's own and a shared one) a COPY creates new emails from
the same blobs; a MOVE there is that copy followed by an expunge of the moved UIDs (each
step atomic, the pair not: RFC 6851 §3.3 allows a server that cannot move atomically this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg
from rongmail.core.flags import DELETED

from ..base import Ok
from ..proto import commands as c
from ..proto.sequence import SequenceSet
from ..replies import NoCommand
from .acl import require
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
    require(node, "i")
    if cmd.move and not {"t", "e"} <= set(view.rights):
        raise NoCommand("imap.no.perm", code="NOPERM", rights="te")
    target = node.mailbox
    source_account = view.mailbox.account_id
    uids = view.resolve(cmd.sequence, uid=cmd.uid, saved=s.saved_search)
    if not uids:
        return Ok()
    uid_of = {view.entries[u].message_id: u for u in uids}
    ctx = s.deps.ctx
    if cmd.move and target.account_id == source_account:
        pairs = await msg.do_move_messages(
            ctx, source_account, list(uid_of), view.mailbox.id, target.id
        )
    else:
        pairs = await msg.do_copy_messages(
            ctx, source_account, list(uid_of), target.id, to_account_id=target.account_id
        )
        if cmd.move:
            moved = [uid_of[mid] for mid, _ in pairs]
            await msg.do_set_flags(ctx, source_account, [mid for mid, _ in pairs], add=DELETED)
            await msg.do_expunge(ctx, source_account, view.mailbox.id, uids=moved)
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
