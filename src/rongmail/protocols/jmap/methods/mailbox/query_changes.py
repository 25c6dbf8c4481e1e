"""Mailbox/queryChanges (RFC 8621 §2.4; standard /queryChanges, RFC 8620 §5.6)."""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import MAILBOX
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.mailbox_query import mailbox_query_ids
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import QUERY_CHANGES_ARGS, query_changes


async def mailbox_query_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, (*QUERY_CHANGES_ARGS, "sortAsTree", "filterAsTree"))
    call.check_account(args)
    current = await call.deps.reader.modseq(call.account_id)
    all_ids = await mailbox_query_ids(call, args)
    return await query_changes(call, args, MAILBOX, ids.MAILBOX, all_ids, current)
