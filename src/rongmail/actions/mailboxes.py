"""Mailbox actions (IMAP CREATE/RENAME/DELETE/SUBSCRIBE/SETACL, JMAP Mailbox/set).

Sharing (RFC 4314 §3.1 SETACL, §3.2 DELETEACL): :func:`do_set_acl` replaces one grantee's
rights on one mailbox; the owner's own rights are implicit and cannot be changed.
"""

from __future__ import annotations

from rongmail.actions.accounts import new_uidvalidity
from rongmail.actions.context import ActionContext
from rongmail.core.models import ROLES, Mailbox
from rongmail.errors import NotFound, ValidationError
from rongmail.store.sql import acl as ac
from rongmail.store.sql import directory as d
from rongmail.store.sql import mail as ml

MAX_NAME = 255
USER_SORT_ORDER = 100


def _check_name(name: str) -> str:
    n = name.strip()
    if not n or len(n) > MAX_NAME or "/" in n or any(ord(c) < 32 for c in n):
        raise ValidationError("mailbox.bad_name", name=name)
    return n


async def do_create_mailbox(
    ctx: ActionContext, account_id: int, name: str, *, parent_id: int = 0,
    role: str | None = None, subscribed: bool = True,
) -> Mailbox:
    if role is not None and role not in ROLES:
        raise ValidationError(what="role")
    # user folders sort after the special-use ones (RFC 8621 §2 sortOrder)
    mb, changes = await ctx.meta.write(ml.create_mailbox(
        account_id, _check_name(name), parent_id, role, new_uidvalidity(), subscribed=subscribed,
        sort_order=USER_SORT_ORDER))
    ctx.bus.publish(changes)
    return mb


async def do_rename_mailbox(
    ctx: ActionContext, mailbox_id: int, *, name: str | None = None, parent_id: int | None = None,
) -> Mailbox:
    mb, changes = await ctx.meta.write(ml.update_mailbox(
        mailbox_id, name=None if name is None else _check_name(name), parent_id=parent_id))
    ctx.bus.publish(changes)
    return mb


async def do_update_mailbox(
    ctx: ActionContext, mailbox_id: int, *, sort_order: int | None = None,
    role: str | None = None, clear_role: bool = False, subscribed: bool | None = None,
) -> Mailbox:
    if role is not None and role not in ROLES:
        raise ValidationError(what="role")
    mb, changes = await ctx.meta.write(ml.update_mailbox(
        mailbox_id, sort_order=sort_order, role=role, clear_role=clear_role,
        subscribed=subscribed))
    ctx.bus.publish(changes)
    return mb


async def do_set_subscribed(ctx: ActionContext, mailbox_id: int, subscribed: bool) -> Mailbox:
    return await do_update_mailbox(ctx, mailbox_id, subscribed=subscribed)


async def do_delete_mailbox(
    ctx: ActionContext, mailbox_id: int, *, remove_messages: bool = True
) -> None:
    changes, _released = await ctx.meta.write(
        ml.delete_mailbox(mailbox_id, remove_messages=remove_messages))
    ctx.bus.publish(changes)


async def do_set_acl(ctx: ActionContext, mailbox_id: int, grantee: str, rights: str) -> str:
    """Give ``grantee`` (an account address of the owner's tenant) exactly ``rights`` on a
    mailbox; ``''`` removes the explicit grant. Returns the stored (canonical) rights."""
    mb = await ctx.meta.read(ml.get_mailbox(mailbox_id))
    acct = await ctx.meta.read(d.get_account_by_address(grantee.strip().lower()))
    if mb is None:
        raise NotFound(what=f"mailbox {mailbox_id}")
    owner = await ctx.meta.read(d.get_account(mb.account_id))
    if acct is None or owner is None or acct.tenant_id != owner.tenant_id:
        raise NotFound("user.unknown", email=grantee)
    stored = ac.canonical(rights)
    changes = await ctx.meta.write(ac.set_acl(mailbox_id, acct.id, stored))
    ctx.bus.publish(changes)
    return stored
