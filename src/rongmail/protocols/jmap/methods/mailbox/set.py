"""Mailbox/set (RFC 8621 §2.5) through ``actions.mailboxes``.

Destroying a mailbox that holds email fails with ``mailboxHasEmail`` unless
``onDestroyRemoveEmails`` is true; one with children fails with ``mailboxHasChild``. Emails only
in that mailbox are destroyed with it (RFC 8621 §2.5).
"""

from __future__ import annotations

from typing import Any

from rongmail.actions import mailboxes as act
from rongmail.errors import ValidationError
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import SetError
from rongmail.protocols.jmap.standard import SET_ARGS, run_set

_SETTABLE = {"name", "parentId", "role", "sortOrder", "isSubscribed"}
_READ_ONLY = {"id", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads", "myRights"}


def _check_props(obj: dict[str, Any], *, creating: bool) -> None:
    bad = [k for k in obj if k not in _SETTABLE and not (k in _READ_ONLY and not creating)]
    if bad:
        raise SetError("invalidProperties", "unknown or server-set property", properties=bad)
    for k, typ in (("name", str), ("sortOrder", int), ("isSubscribed", bool)):
        if k in obj and not isinstance(obj[k], typ):
            raise SetError("invalidProperties", f"bad {k}", properties=[k])
    if "role" in obj and obj["role"] is not None and not isinstance(obj["role"], str):
        raise SetError("invalidProperties", "bad role", properties=["role"])


def _parent(call: Call, obj: dict[str, Any]) -> int | None:
    if "parentId" not in obj:
        return None
    if obj["parentId"] is None:
        return 0
    return call.require(ids.MAILBOX, obj["parentId"], "parentId")


async def mailbox_set(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, (*SET_ARGS, "onDestroyRemoveEmails"))
    remove_emails = args.boolean("onDestroyRemoveEmails")
    ctx = call.deps.ctx
    reader = call.deps.reader

    async def owned(mid: int) -> None:
        mb = await reader.mailbox(mid)
        if mb is None or mb.account_id != call.account_id:
            raise SetError("notFound")

    async def create(cid: str, obj: dict[str, Any]) -> dict[str, Any]:
        _check_props(obj, creating=True)
        if not isinstance(obj.get("name"), str):
            raise SetError("invalidProperties", "name required", properties=["name"])
        parent = _parent(call, obj) or 0
        if parent:
            await owned(parent)
        mb = await act.do_create_mailbox(ctx, call.account_id, obj["name"], parent_id=parent,
                                         role=obj.get("role"),
                                         subscribed=obj.get("isSubscribed", True))
        if "sortOrder" in obj:
            mb = await act.do_update_mailbox(ctx, mb.id, sort_order=obj["sortOrder"])
        return {"id": ids.encode(ids.MAILBOX, mb.id), "sortOrder": mb.sort_order,
                "totalEmails": 0, "unreadEmails": 0, "totalThreads": 0, "unreadThreads": 0,
                "isSubscribed": mb.subscribed}

    async def update(mid: int, patch: dict[str, Any]) -> dict[str, Any] | None:
        await owned(mid)
        _check_props(patch, creating=False)
        parent = _parent(call, patch)
        if "name" in patch or parent is not None:
            await act.do_rename_mailbox(ctx, mid, name=patch.get("name"), parent_id=parent)
        if {"role", "sortOrder", "isSubscribed"} & patch.keys():
            role = patch.get("role")
            await act.do_update_mailbox(ctx, mid, sort_order=patch.get("sortOrder"), role=role,
                                        clear_role="role" in patch and role is None,
                                        subscribed=patch.get("isSubscribed"))
        return None

    async def destroy(mid: int) -> None:
        await owned(mid)
        try:
            await act.do_delete_mailbox(ctx, mid, remove_messages=remove_emails)
        except ValidationError as exc:
            if exc.key == "mailbox.has_children":
                raise SetError("mailboxHasChild") from None
            if exc.key == "mailbox.not_empty":
                raise SetError("mailboxHasEmail") from None
            raise

    return await run_set(call, args, ids.MAILBOX, create=create, update=update, destroy=destroy)
