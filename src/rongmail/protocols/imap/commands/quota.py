"""QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA.

Invariants: one quota root ``""`` per account with the STORAGE resource in KiB (RFC 9208
§5.1), from ``account.quota_bytes``/``used_bytes``; an account without a limit has no quota
root; SETQUOTA is an administrator action and refused here (``NO [NOPERM]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom, MailboxName
from ..replies import NoCommand

if TYPE_CHECKING:
    from ..session import Session


async def _quota_line(s: Session) -> bool:
    acct = await s.deps.reader.account(s.account_id)
    if acct is None or not acct.quota_bytes:
        return False
    used = (acct.used_bytes + 1023) // 1024
    s.untagged(Atom("QUOTA"), "", [Atom("STORAGE"), used, acct.quota_bytes // 1024])
    return True


async def getquotaroot(s: Session, cmd: c.GetQuotaRoot) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    acct = await s.deps.reader.account(s.account_id)
    roots = [""] if acct is not None and acct.quota_bytes else []
    s.untagged(Atom("QUOTAROOT"), MailboxName(node.path), *roots)
    await _quota_line(s)
    return Ok()


async def getquota(s: Session, cmd: c.GetQuota) -> Ok:
    if cmd.root != "" or not await _quota_line(s):
        raise NoCommand("imap.no.no_quota_root", code="NONEXISTENT", name=cmd.root)
    return Ok()


async def setquota(s: Session, cmd: c.SetQuota) -> Ok:
    raise NoCommand("imap.no.setquota", code="NOPERM")
