"""Identity/set (RFC 8621 §6.3). ``email`` must be the account's address or one of its aliases'
addresses (``forbiddenFrom`` otherwise) and is immutable; the built-in identity cannot be
destroyed."""

from __future__ import annotations

from typing import Any

from rongmail.actions import jmap as act
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.identities import BUILTIN
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import SetError
from rongmail.protocols.jmap.standard import SET_ARGS, run_set

_MUTABLE = {"name": "name", "replyTo": "reply_to", "bcc": "bcc",
            "textSignature": "text_signature", "htmlSignature": "html_signature"}


def _values(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        col = _MUTABLE.get(k)
        if col is None:
            raise SetError("invalidProperties", properties=[k])
        if col in ("reply_to", "bcc"):
            if v is not None and not (isinstance(v, list) and all(
                    isinstance(a, dict) and isinstance(a.get("email"), str) for a in v)):
                raise SetError("invalidProperties", properties=[k])
        elif not isinstance(v, str):
            raise SetError("invalidProperties", properties=[k])
        out[col] = v
    return out


async def identity_set(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, SET_ARGS)
    ctx = call.deps.ctx

    async def allowed_from(email: str) -> bool:
        if email.lower() == call.account.address.lower():
            return True
        alias = await call.deps.reader.alias(email.lower())
        return alias is not None and call.account.address in alias.members

    async def create(cid: str, obj: dict[str, Any]) -> dict[str, Any]:
        email = obj.get("email")
        if not isinstance(email, str):
            raise SetError("invalidProperties", properties=["email"])
        if not await allowed_from(email):
            raise SetError("forbiddenFrom")
        vals = _values({k: v for k, v in obj.items() if k != "email"})
        row = await act.do_create_identity(
            ctx, call.account_id, name=vals.get("name", ""), email=email,
            reply_to=vals.get("reply_to"), bcc=vals.get("bcc"),
            text_signature=vals.get("text_signature", ""),
            html_signature=vals.get("html_signature", ""))
        return {"id": ids.encode(ids.IDENTITY, row.id), "mayDelete": True}

    async def update(iid: int, patch: dict[str, Any]) -> dict[str, Any] | None:
        if iid == BUILTIN:
            # the account's own address: its name, reply-to, bcc and signatures are the user's
            # to edit (RFC 8621 §6: only ``email`` is immutable); it is stored as a real row
            # on first edit so it keeps the built-in id's place
            if "email" in patch:
                raise SetError("invalidProperties", properties=["email"])
            await act.do_update_builtin_identity(ctx, call.account_id, _values(patch))
            return None
        await act.do_update_identity(ctx, call.account_id, iid, _values(patch))
        return None

    async def destroy(iid: int) -> None:
        if iid == BUILTIN:
            raise SetError("forbidden")
        await act.do_delete_identity(ctx, call.account_id, iid)

    return await run_set(call, args, ids.IDENTITY, create=create, update=update, destroy=destroy)
