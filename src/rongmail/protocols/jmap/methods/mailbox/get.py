"""Mailbox/get (RFC 8621 §2.1; standard /get, RFC 8620 §5.1)."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.mailboxes import PROPERTIES, mailbox_json
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import GET_ARGS, get_ids, get_properties, state


async def mailbox_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, GET_ARGS)
    call.check_account(args)
    want, db_ids = get_ids(call, args, ids.MAILBOX)
    props = get_properties(args, PROPERTIES, PROPERTIES)
    st = await state(call)
    reader = call.deps.reader
    mailboxes = {m.id: m for m in await reader.mailboxes(call.account_id)}
    counts = await reader.mailbox_counts(call.account_id)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    pairs: list[tuple[str, int | None]] = (
        [(ids.encode(ids.MAILBOX, i), i) for i in mailboxes] if want is None
        else list(zip(want, db_ids, strict=True)))
    for jid, mid in pairs:
        mb = mailboxes.get(mid) if mid is not None else None
        if mb is None:
            not_found.append(jid)
            continue
        full = mailbox_json(mb, counts.get(mb.id))
        found.append({p: full[p] for p in props})
    return {"accountId": call.jmap_account_id, "state": st, "list": found,
            "notFound": not_found}
