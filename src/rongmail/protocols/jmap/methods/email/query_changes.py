"""Email/queryChanges (RFC 8621 §4.5; standard /queryChanges, RFC 8620 §5.6).

With ``collapseThreads`` an email can enter or leave the results without changing itself (its
thread's representative was moved or destroyed), so every email of a thread touched since the
old state is reported as changed (removed, and added again where it is in the results now).
"""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import EMAIL, THREAD
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import DEFAULT_SORT, query_rows
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import QUERY_CHANGES_ARGS, parse_state, query_changes


async def email_query_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, (*QUERY_CHANGES_ARGS, "collapseThreads"))
    call.check_account(args)
    reader = call.deps.reader
    current = await reader.modseq(call.account_id)
    collapse = args.boolean("collapseThreads")
    rows = await query_rows(call, args.opt_obj("filter"),
                            args.opt_list("sort") or DEFAULT_SORT, collapse)
    all_ids = [ids.encode(ids.EMAIL, r.id) for r in rows]
    also: set[str] = set()
    if collapse:
        since = parse_state(args.opt_str("sinceQueryState"))
        log = [c for c in await reader.changes_since(call.account_id, since)
               if c.modseq <= current]
        threads = {c.object_id for c in log if c.type == THREAD}
        emails = sorted({c.object_id for c in log if c.type == EMAIL})
        threads |= {m.thread_id for m in await reader.messages(call.account_id, emails)}
        members = await reader.thread_messages(call.account_id, sorted(threads))
        also = {ids.encode(ids.EMAIL, m) for lst in members.values() for m in lst}
    return await query_changes(call, args, EMAIL, ids.EMAIL, all_ids, current,
                               also_changed=also)
