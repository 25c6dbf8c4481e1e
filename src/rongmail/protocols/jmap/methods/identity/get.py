"""Identity/get (RFC 8621 §6.1)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.identities import PROPERTIES, all_identities
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import GET_ARGS, get_ids, get_properties, state


async def identity_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, GET_ARGS)
    call.check_account(args)
    want, db_ids = get_ids(call, args, ids.IDENTITY)
    props = get_properties(args, PROPERTIES, PROPERTIES)
    st = await state(call)
    known = await all_identities(call.deps.reader, call.account)
    pairs = ([(v["id"], k) for k, v in known.items()] if want is None
             else list(zip(want, db_ids, strict=True)))
    out, not_found = [], []
    for jid, iid in pairs:
        obj = known.get(iid) if iid is not None else None
        if obj is None:
            not_found.append(jid)
        else:
            out.append({p: obj[p] for p in props})
    return {"accountId": call.jmap_account_id, "state": st, "list": out, "notFound": not_found}
