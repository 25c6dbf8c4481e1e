"""VacationResponse/set (RFC 8621 §8.2): only ``update`` of ``singleton``; create and destroy
are ``singleton`` errors."""

from __future__ import annotations

from typing import Any

from rongmail.actions.jmap import do_set_vacation
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import parse_utc
from rongmail.protocols.jmap.methods.vacation_response.get import SINGLETON
from rongmail.protocols.jmap.proto.errors import (
    REQUEST_TOO_LARGE,
    STATE_MISMATCH,
    MethodError,
    SetError,
)
from rongmail.protocols.jmap.standard import SET_ARGS, set_error_json, state
from rongmail.store.reader import VacationRow

_FIELDS = {"isEnabled": bool, "fromDate": str, "toDate": str, "subject": str, "textBody": str,
           "htmlBody": str}


async def vacation_set(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, SET_ARGS)
    call.check_account(args)
    creates = args.opt_obj("create") or {}
    updates = args.opt_obj("update") or {}
    destroys = args.opt_str_list("destroy") or []
    if len(creates) + len(updates) + len(destroys) > call.deps.limits.max_objects_in_set:
        raise MethodError(REQUEST_TOO_LARGE, limit="maxObjectsInSet")
    old = await state(call)
    if args.opt_str("ifInState") not in (None, old):
        raise MethodError(STATE_MISMATCH)
    out: dict[str, Any] = {"accountId": call.jmap_account_id, "oldState": old}
    not_created = {cid: SetError("singleton").to_json() for cid in creates}
    not_destroyed = {i: SetError("singleton").to_json() for i in destroys}
    updated: dict[str, Any] = {}
    not_updated: dict[str, Any] = {}
    for vid, patch in updates.items():
        try:
            if vid != SINGLETON:
                raise SetError("notFound")
            if not isinstance(patch, dict):
                raise SetError("invalidPatch")
            cur = await call.deps.reader.vacation(call.account_id)
            vals: dict[str, Any] = {}
            for k, v in patch.items():
                if k not in _FIELDS or (v is not None and not isinstance(v, _FIELDS[k])):
                    raise SetError("invalidProperties", properties=[k])
                vals[k] = v
            dates = {k: (parse_utc(vals[k], k) if vals[k] else None)
                     for k in ("fromDate", "toDate") if k in vals}
            await do_set_vacation(call.deps.ctx, VacationRow(
                account_id=call.account_id,
                is_enabled=bool(vals.get("isEnabled", cur.is_enabled)),
                from_date=dates.get("fromDate", cur.from_date),
                to_date=dates.get("toDate", cur.to_date),
                subject=vals.get("subject", cur.subject),
                text_body=vals.get("textBody", cur.text_body),
                html_body=vals.get("htmlBody", cur.html_body)))
            updated[vid] = None
        except Exception as exc:  # noqa: BLE001
            not_updated[vid] = set_error_json(exc, call)
    out.update(newState=await state(call), created=None, updated=updated or None,
               destroyed=None, notCreated=not_created or None, notUpdated=not_updated or None,
               notDestroyed=not_destroyed or None)
    return out
