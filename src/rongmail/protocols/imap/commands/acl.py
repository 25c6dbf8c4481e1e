"""ACL commands (RFC 4314): MYRIGHTS, GETACL, LISTRIGHTS, SETACL, DELETEACL.

Invariants: an account has every right on its own mailboxes (``lrswipkxtecdan``); rights are
never widened here.

Known limit: the store has an ``acl`` table but no read/write operations yet, so sharing and
delegation cannot be set from IMAP (SETACL/DELETEACL answer ``NO [CANNOT]``) and other
accounts' shared mailboxes are not listed. Needed: ``Reader.acl(mailbox_id)``,
``Reader.shared_with(account_id)`` and ``actions.mailboxes.do_set_acl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom, MailboxName
from ..replies import NoCommand

if TYPE_CHECKING:
    from ..session import Session

ALL_RIGHTS = "lrswipkxtecdan"


async def _own(s: Session, name: str) -> str:
    tree = await s.tree()
    node = tree.get(name)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=name)
    return node.path


async def myrights(s: Session, cmd: c.MyRights) -> Ok:
    path = await _own(s, cmd.mailbox)
    s.untagged(Atom("MYRIGHTS"), MailboxName(path), ALL_RIGHTS)
    return Ok()


async def getacl(s: Session, cmd: c.GetAcl) -> Ok:
    path = await _own(s, cmd.mailbox)
    assert s.identity is not None
    s.untagged(Atom("ACL"), MailboxName(path), s.identity.account.address, ALL_RIGHTS)
    return Ok()


async def listrights(s: Session, cmd: c.ListRights) -> Ok:
    path = await _own(s, cmd.mailbox)
    s.untagged(
        Atom("LISTRIGHTS"), MailboxName(path), cmd.identifier, "", *(Atom(r) for r in ALL_RIGHTS)
    )
    return Ok()


async def setacl(s: Session, cmd: c.SetAcl | c.DeleteAcl) -> Ok:
    await _own(s, cmd.mailbox)
    raise NoCommand("imap.no.acl_unsupported", code="CANNOT")
