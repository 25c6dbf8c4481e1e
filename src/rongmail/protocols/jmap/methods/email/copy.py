"""Email/copy (RFC 8621 §4.7). RongMail sessions hold exactly one account (shared mailboxes are
reached through ACLs, not JMAP accounts yet), so any other ``fromAccountId`` is
``fromAccountNotFound`` and copying within one account is ``invalidArguments`` as §4.7 and
RFC 8620 §5.4 require (use Email/set ``mailboxIds`` instead)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto.errors import (
    FROM_ACCOUNT_NOT_FOUND,
    INVALID_ARGUMENTS,
    MethodError,
)

ARGS = ("fromAccountId", "ifFromInState", "accountId", "ifInState", "create",
        "onSuccessDestroyOriginal", "destroyFromIfInState")


async def email_copy(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    if args.string("fromAccountId") == call.jmap_account_id:
        raise MethodError(INVALID_ARGUMENTS, "fromAccountId equals accountId")
    raise MethodError(FROM_ACCOUNT_NOT_FOUND)
