"""Access control lists of mailboxes (RFC 4314): reads and the one write, as sans-IO ops.

Table ``acl(owner_id, mailbox_id, grantee_id, rights)`` (migration 0001). A row with
``mailbox_id = 0`` delegates *every* mailbox of the owner (``actions.admin`` delegation); a row
naming a mailbox overrides the account-wide row for that mailbox, so an owner can widen or
narrow (``rights = ''`` is never stored: deleting the row is how a grant ends).

Invariants (checked by the storage contract suite):

* ``rights`` holds only RFC 4314 §2.1 rights letters, each once, in the canonical order of
  :data:`CANONICAL`; the owner never has a row for itself (owners hold every right implicitly).
* Setting or deleting an entry bumps the owner's ``modseq`` once and logs one ``Mailbox``
  ``updated`` change, so JMAP ``Mailbox/changes`` (``myRights``/``shareWith``) and IMAP
  clients of the owner see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rongmail.core import changes as ch
from rongmail.core.changes import Change
from rongmail.core.models import Mailbox
from rongmail.errors import NotFound, ValidationError
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Op, Q, one

__all__ = ["CANONICAL", "AclEntry", "SharedMailbox", "acl_of", "rights_of", "set_acl",
           "shared_with"]

#: RFC 4314 §2.1 rights, in the order they are stored and shown.
CANONICAL = "lrswipkxtea"


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One grant on a mailbox; ``inherited`` when it comes from the account-wide row."""

    grantee_id: int
    grantee: str  # the grantee's address (the RFC 4314 identifier)
    rights: str
    inherited: bool = False


@dataclass(frozen=True, slots=True)
class SharedMailbox:
    """A mailbox of another account visible to a grantee, with the grantee's rights."""

    owner_id: int
    owner: str  # owner's address
    mailbox: Mailbox
    rights: str


def canonical(rights: str) -> str:
    """``rights`` reduced to known letters in canonical order (unknown letters raise)."""
    bad = set(rights) - set(CANONICAL)
    if bad:
        raise ValidationError("acl.bad_rights", rights="".join(sorted(bad)))
    return "".join(r for r in CANONICAL if r in rights)


def acl_of(mailbox_id: int) -> Op[list[AclEntry]]:
    """Every grant on a mailbox: explicit rows win over the owner's account-wide rows."""
    rows = yield Q(
        "SELECT acl.grantee_id, account.address, acl.rights, acl.mailbox_id"
        " FROM acl JOIN mailbox ON mailbox.account_id = acl.owner_id"
        " JOIN account ON account.id = acl.grantee_id"
        " WHERE mailbox.id = ? AND acl.mailbox_id IN (0, mailbox.id)"
        " ORDER BY account.address, acl.mailbox_id DESC",
        (mailbox_id,),
    )
    out: dict[int, AclEntry] = {}
    for grantee_id, address, rights, mbid in rows:
        if grantee_id not in out:  # the explicit row sorts first
            out[grantee_id] = AclEntry(grantee_id, address, rights, inherited=mbid == 0)
    return list(out.values())


def rights_of(mailbox_id: int, grantee_id: int) -> Op[str]:
    """The rights ``grantee_id`` holds on a mailbox of another account ('' for none)."""
    r = one((yield Q(
        "SELECT acl.rights FROM acl JOIN mailbox ON mailbox.account_id = acl.owner_id"
        " WHERE mailbox.id = ? AND acl.grantee_id = ? AND acl.mailbox_id IN (0, mailbox.id)"
        " ORDER BY acl.mailbox_id DESC LIMIT 1",
        (mailbox_id, grantee_id),
    )))
    return str(r[0]) if r else ""


def shared_with(grantee_id: int) -> Op[list[SharedMailbox]]:
    """Every mailbox of other accounts ``grantee_id`` holds at least one right on, by owner
    address then the owner's mailbox order."""
    rows = yield Q(
        "SELECT acl.owner_id, owner.address, acl.mailbox_id, acl.rights FROM acl"
        " JOIN account owner ON owner.id = acl.owner_id"
        " WHERE acl.grantee_id = ? AND acl.owner_id <> ? AND owner.disabled = 0"
        " ORDER BY owner.address",
        (grantee_id, grantee_id),
    )
    grants: dict[int, tuple[str, dict[int, str]]] = {}
    for owner_id, address, mbid, rights in rows:
        grants.setdefault(owner_id, (address, {}))[1][mbid] = rights
    out: list[SharedMailbox] = []
    for owner_id, (address, by_mailbox) in grants.items():
        for mb in (yield from ml.list_mailboxes(owner_id)):
            rights = by_mailbox.get(mb.id, by_mailbox.get(0, ""))
            if rights:
                out.append(SharedMailbox(owner_id, address, mb, rights))
    return out


def set_acl(mailbox_id: int, grantee_id: int, rights: str) -> Op[list[Change]]:
    """Replace ``grantee_id``'s rights on a mailbox (``''`` deletes the explicit entry;
    an account-wide delegation, if any, then applies again). RFC 4314 §3.1, §3.2."""
    mb = yield from ml.get_mailbox(mailbox_id)
    if mb is None:
        raise NotFound(what=f"mailbox {mailbox_id}")
    if grantee_id == mb.account_id:
        raise ValidationError("acl.owner_rights")
    rights = canonical(rights)
    if rights:
        yield Q(
            "INSERT INTO acl (owner_id, mailbox_id, grantee_id, rights) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (owner_id, mailbox_id, grantee_id) DO UPDATE SET"
            " rights = excluded.rights",
            (mb.account_id, mailbox_id, grantee_id, rights),
        )
    else:
        yield Q("DELETE FROM acl WHERE owner_id = ? AND mailbox_id = ? AND grantee_id = ?",
                (mb.account_id, mailbox_id, grantee_id))
    modseq = yield from ml.bump(mb.account_id)
    yield from ml.touch_mailboxes([mailbox_id], modseq)
    changes = [Change(mb.account_id, modseq, ch.MAILBOX, "updated", mailbox_id)]
    yield from ml.log(changes)
    return changes
