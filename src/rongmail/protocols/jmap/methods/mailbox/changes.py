"""Mailbox/changes (RFC 8621 §2.2). ``updatedProperties`` is always null: count changes and
property changes are logged alike."""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import MAILBOX
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import CHANGES_ARGS, changes


async def mailbox_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, CHANGES_ARGS)
    call.check_account(args)
    out = await changes(call, args, MAILBOX, ids.MAILBOX)
    out["updatedProperties"] = None
    return out
