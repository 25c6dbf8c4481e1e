"""EmailSubmission/get (RFC 8621 §7.1)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.submissions import PROPERTIES, submission_json
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import (
    GET_ARGS,
    check_get_all,
    get_ids,
    get_properties,
    state,
)


async def submission_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, GET_ARGS)
    call.check_account(args)
    want, db_ids = get_ids(call, args, ids.SUBMISSION)
    props = get_properties(args, PROPERTIES, PROPERTIES)
    st = await state(call)
    rows = await call.deps.reader.submissions(
        call.account_id, None if want is None else [i for i in db_ids if i is not None])
    by_id = {r.id: submission_json(r) for r in rows}
    if want is None:
        check_get_all(call, len(rows))
        want, db_ids = [v["id"] for v in by_id.values()], list(by_id)
    out, not_found = [], []
    for jid, sid in zip(want, db_ids, strict=True):
        obj = by_id.get(sid) if sid is not None else None
        if obj is None:
            not_found.append(jid)
        else:
            out.append({p: obj[p] for p in props})
    return {"accountId": call.jmap_account_id, "state": st, "list": out, "notFound": not_found}
