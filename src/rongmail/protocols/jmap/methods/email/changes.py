"""Email/changes (RFC 8621 §4.3): only ``Email`` rows of the change log (membership and flag
changes are logged as Email updates; IMAP-only ``MailboxMessage`` rows are ignored)."""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import EMAIL
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import CHANGES_ARGS, changes


async def email_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, CHANGES_ARGS)
    call.check_account(args)
    return await changes(call, args, EMAIL, ids.EMAIL)
