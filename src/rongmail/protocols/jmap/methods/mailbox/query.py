"""Mailbox/query (RFC 8621 §2.3; standard /query, RFC 8620 §5.5).
``sortAsTree``/``filterAsTree`` are accepted; results are flat, sorted by the given comparators."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.mailbox_query import mailbox_query_ids
from rongmail.protocols.jmap.standard import QUERY_ARGS, state, window


async def mailbox_query(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, (*QUERY_ARGS, "sortAsTree", "filterAsTree"))
    call.check_account(args)
    st = await state(call)
    all_ids = await mailbox_query_ids(call, args)
    return {"accountId": call.jmap_account_id, "queryState": st, "canCalculateChanges": True,
            **window(call, args, all_ids)}
