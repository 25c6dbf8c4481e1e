"""EmailSubmission/changes (RFC 8621 §7.2)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import CHANGES_ARGS, changes


async def submission_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, CHANGES_ARGS)
    call.check_account(args)
    return await changes(call, args, "EmailSubmission", ids.SUBMISSION)
