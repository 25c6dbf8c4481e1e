"""VacationResponse/get (RFC 8621 §8.1): the singleton ``singleton``.

Only the setting is stored here; sending the automatic replies is the delivery pipeline's job
(the vacation auto-responder, ``pipeline/vacation.py``, reads the same row)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.emails import utc_date
from rongmail.protocols.jmap.standard import GET_ARGS, get_properties, state

PROPERTIES = ("id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody")
SINGLETON = "singleton"


async def vacation_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, GET_ARGS)
    call.check_account(args)
    want = args.opt_str_list("ids")
    props = get_properties(args, PROPERTIES, PROPERTIES)
    st = await state(call)
    v = await call.deps.reader.vacation(call.account_id)
    full = {"id": SINGLETON, "isEnabled": v.is_enabled, "fromDate": utc_date(v.from_date),
            "toDate": utc_date(v.to_date), "subject": v.subject, "textBody": v.text_body,
            "htmlBody": v.html_body}
    out = [{p: full[p] for p in props}] if want is None or SINGLETON in want else []
    not_found = [i for i in (want or []) if i != SINGLETON]
    return {"accountId": call.jmap_account_id, "state": st, "list": out, "notFound": not_found}
