"""Thread/get (RFC 8621 §3.1): the email ids of each thread, oldest first."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import INVALID_ARGUMENTS, MethodError
from rongmail.protocols.jmap.standard import GET_ARGS, get_ids, get_properties, state


async def thread_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, GET_ARGS)
    call.check_account(args)
    want, db_ids = get_ids(call, args, ids.THREAD)
    if want is None:
        raise MethodError(INVALID_ARGUMENTS, "Thread/get needs ids")
    props = get_properties(args, ("id", "emailIds"), ("id", "emailIds"))
    st = await state(call)
    found = await call.deps.reader.thread_messages(
        call.account_id, [i for i in db_ids if i is not None])
    out, not_found = [], []
    for jid, tid in zip(want, db_ids, strict=True):
        members = found.get(tid) if tid is not None else None
        if not members:
            not_found.append(jid)
            continue
        full = {"id": jid, "emailIds": [ids.encode(ids.EMAIL, m) for m in members]}
        out.append({p: full[p] for p in props})
    return {"accountId": call.jmap_account_id, "state": st, "list": out, "notFound": not_found}
