"""Email/query (RFC 8621 §4.4). See ``mail/email_query.py`` for the fast and general paths."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import DEFAULT_SORT, fast_query, is_fast, query_ids
from rongmail.protocols.jmap.proto.errors import INVALID_ARGUMENTS, MethodError
from rongmail.protocols.jmap.standard import QUERY_ARGS, state, window

ARGS = (*QUERY_ARGS, "collapseThreads")


async def email_query(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    f = args.opt_obj("filter")
    sort = args.opt_list("sort") or DEFAULT_SORT
    collapse = args.boolean("collapseThreads")
    position = args.integer("position", 0)
    limit = args.opt_int("limit", minimum=0)
    head = {"accountId": call.jmap_account_id, "canCalculateChanges": True,
            "collapseThreads": collapse}
    if (f is not None and is_fast(f, sort, collapse) and args.opt_str("anchor") is None
            and position >= 0):
        if not isinstance(f.get("inMailbox"), str):
            raise MethodError(INVALID_ARGUMENTS, "inMailbox must be an id")
        st, page, total = await fast_query(call, f, sort, position,
                                           limit if limit is not None else 2**31)
        out: dict[str, Any] = {**head, "queryState": st, "position": position, "ids": page}
        if args.boolean("calculateTotal"):
            out["total"] = total
        if limit is not None:
            out["limit"] = limit
        return out
    st = await state(call)
    all_ids = await query_ids(call, f, sort, collapse)
    return {**head, "queryState": st, **window(call, args, all_ids)}
