"""CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE (RFC 9051 §6.3.4-§6.3.8, RFC 6154 §3
CREATE-SPECIAL-USE). Writes go through ``actions.mailboxes``.

Invariants: ``INBOX`` can be neither created, deleted nor renamed here; missing superiors of a
new name are created (RFC 9051 §6.3.4 SHOULD); a trailing delimiter only declares intent to
create children and is dropped.

Shared mailboxes (RFC 4314 §4): creating below another account's mailbox needs ``k`` on the
parent (the new mailbox belongs to that account), deleting needs ``x``; renaming across
accounts and creating the ``Other Users`` levels themselves are refused; subscribing to a
shared mailbox changes nothing of the owner's (shared mailboxes always count as subscribed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import mailboxes as mbx

from ..base import Ok
from ..names import OTHER_USERS, ROLE_OF_USE, SEPARATOR
from ..proto import commands as c
from ..replies import NoCommand
from .acl import require

if TYPE_CHECKING:
    from ..session import Session


def _clean(name: str) -> str:
    name = name.rstrip(SEPARATOR)
    if not name or any(not part for part in name.split(SEPARATOR)):
        raise NoCommand("imap.no.bad_name", code="CANNOT", name=name)
    return name


async def create(s: Session, cmd: c.Create) -> Ok:
    name = _clean(cmd.mailbox)
    role = None
    if cmd.special_use:
        if len(cmd.special_use) > 1 or cmd.special_use[0].lower() not in ROLE_OF_USE:
            raise NoCommand("imap.no.use_attr", code="USEATTR")
        role = ROLE_OF_USE[cmd.special_use[0].lower()]
    tree = await s.tree()
    if tree.get(name) is not None or name in tree.placeholders:
        raise NoCommand("imap.no.exists", code="ALREADYEXISTS", name=name)
    parts = name.split(SEPARATOR)
    # RFC 2342 §5: the "Other Users/<owner>" levels are not mailboxes; below them a name
    # must start with one of the owner's mailboxes shared with the user
    other = 2 if parts[0] == OTHER_USERS else 0
    parent_id = 0
    account_id = s.account_id
    for depth, leaf in enumerate(parts):
        if depth < other:
            continue
        node = tree.get(SEPARATOR.join(parts[: depth + 1]))
        if node is None and depth == other and other:
            raise NoCommand("imap.no.perm", code="NOPERM", rights="k")
        if node is not None:
            parent_id = node.mailbox.id
            account_id = node.mailbox.account_id
            if node.shared:
                require(node, "k")
            continue
        last = depth == len(parts) - 1
        mb = await mbx.do_create_mailbox(
            s.deps.ctx, account_id, leaf, parent_id=parent_id, role=role if last else None
        )
        parent_id = mb.id
    return Ok()


async def delete(s: Session, cmd: c.Delete) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    if node.mailbox.role == "inbox":
        raise NoCommand("imap.no.inbox", code="CANNOT")
    require(node, "x")
    if node.has_children:
        raise NoCommand("imap.no.has_children", code="INUSE", name=cmd.mailbox)
    if s.view is not None and s.view.mailbox.id == node.mailbox.id:
        s.deselect()
    await mbx.do_delete_mailbox(s.deps.ctx, node.mailbox.id)
    return Ok()


async def rename(s: Session, cmd: c.Rename) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    if node.mailbox.role == "inbox":
        raise NoCommand("imap.no.inbox", code="CANNOT")
    if node.shared or cmd.new_name.split(SEPARATOR)[0] == OTHER_USERS:
        raise NoCommand("imap.no.perm", code="NOPERM", rights="x")
    new = _clean(cmd.new_name)
    if tree.get(new) is not None:
        raise NoCommand("imap.no.exists", code="ALREADYEXISTS", name=new)
    parent, sep, leaf = new.rpartition(SEPARATOR)
    parent_id = 0
    if sep:
        pnode = tree.get(parent)
        if pnode is None:
            await create(s, c.Create(cmd.tag, parent))
            pnode = (await s.tree()).get(parent)
            assert pnode is not None
        parent_id = pnode.mailbox.id
    await mbx.do_rename_mailbox(s.deps.ctx, node.mailbox.id, name=leaf, parent_id=parent_id)
    return Ok()


async def subscribe(s: Session, cmd: c.Subscribe) -> Ok:
    tree = await s.tree()
    node = tree.get(cmd.mailbox)
    if node is None:
        if not cmd.subscribe:
            return Ok()  # RFC 9051 §6.3.8: unsubscribing a non-existent name is allowed
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    if node.shared:
        return Ok()
    await mbx.do_set_subscribed(s.deps.ctx, node.mailbox.id, cmd.subscribe)
    return Ok()
