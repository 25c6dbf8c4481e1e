"""EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1, RFC 7162 §3.2.10 VANISHED).

Invariants: only ``\\Deleted`` messages go; the client learns of every removal from this
session as ``* n EXPUNGE`` (highest first, so the numbers stay valid) or, with QRESYNC
enabled, as one ``* VANISHED`` (RFC 7162 §3.2.10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom
from ..proto.sequence import SequenceSet
from ..replies import NoCommand

if TYPE_CHECKING:
    from ..session import Session


def announce_expunged(s: Session, uids: list[int]) -> None:
    view = s.view
    assert view is not None
    if not uids:
        return
    if s.qresync:
        view.expunge(uids)
        s.untagged(Atom("VANISHED"), Atom(str(SequenceSet.of(uids))))
        return
    for n in view.expunge(uids):
        s.untagged(n, Atom("EXPUNGE"))


async def expunge(s: Session, cmd: c.Expunge) -> Ok:
    view = s.view
    assert view is not None
    if view.readonly:
        raise NoCommand("imap.no.read_only", code="READ-ONLY")
    if "e" not in view.rights:  # RFC 4314 §4
        raise NoCommand("imap.no.perm", code="NOPERM", rights="e")
    uids = None
    if cmd.uids is not None:
        uids = view.resolve(cmd.uids, uid=True)
        if not uids:
            return Ok()
    gone = await msg.do_expunge(s.deps.ctx, view.mailbox.account_id, view.mailbox.id, uids=uids)
    announce_expunged(s, [u for u in gone if view.msn(u) is not None])
    return Ok()
