"""Email/queryChanges (RFC 8621 §4.5; standard /queryChanges, RFC 8620 §5.6)."""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import EMAIL
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import DEFAULT_SORT, query_ids
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import QUERY_CHANGES_ARGS, query_changes


async def email_query_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, (*QUERY_CHANGES_ARGS, "collapseThreads"))
    call.check_account(args)
    current = await call.deps.reader.modseq(call.account_id)
    all_ids = await query_ids(call, args.opt_obj("filter"), args.opt_list("sort") or DEFAULT_SORT,
                              args.boolean("collapseThreads"))
    return await query_changes(call, args, EMAIL, ids.EMAIL, all_ids, current)
