"""Thread/changes (RFC 8621 §3.2) from the ``Thread`` rows of the change log."""

from __future__ import annotations

from typing import Any

from rongmail.core.changes import THREAD
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import CHANGES_ARGS, changes


async def thread_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, CHANGES_ARGS)
    call.check_account(args)
    return await changes(call, args, THREAD, ids.THREAD)
