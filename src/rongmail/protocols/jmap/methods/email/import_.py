"""Email/import (RFC 8621 §4.8): uploaded RFC 5322 blobs become emails via
``actions.messages.do_append_message`` (the same path as IMAP APPEND)."""

from __future__ import annotations

from typing import Any

from rongmail.actions import messages as act
from rongmail.core.flags import split_flags
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.compose import blob_bytes
from rongmail.protocols.jmap.mail.email_query import parse_utc
from rongmail.protocols.jmap.methods.email.set import keyword_set
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import (
    REQUEST_TOO_LARGE,
    STATE_MISMATCH,
    MethodError,
    SetError,
)
from rongmail.protocols.jmap.standard import set_error_json, state

ARGS = ("accountId", "ifInState", "emails")


async def email_import(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    emails = args.opt_obj("emails") or {}
    if len(emails) > call.deps.limits.max_objects_in_set:
        raise MethodError(REQUEST_TOO_LARGE, limit="maxObjectsInSet")
    old = await state(call)
    if_in = args.opt_str("ifInState")
    if if_in is not None and if_in != old:
        raise MethodError(STATE_MISMATCH)
    mailboxes = {m.id for m in await call.deps.reader.mailboxes(call.account_id)}
    created: dict[str, Any] = {}
    not_created: dict[str, Any] = {}
    for cid, obj in emails.items():
        try:
            if not isinstance(obj, dict) or not isinstance(obj.get("mailboxIds"), dict):
                raise SetError("invalidProperties", properties=["mailboxIds"])
            mbs = {call.require(ids.MAILBOX, k, "mailboxIds") for k in obj["mailboxIds"]}
            if not mbs or not mbs <= mailboxes:
                raise SetError("invalidProperties", properties=["mailboxIds"])
            flags, kws = split_flags(keyword_set(obj.get("keywords") or {}))
            received = (parse_utc(obj["receivedAt"], "receivedAt") if obj.get("receivedAt")
                        else None)
            raw = await blob_bytes(call, obj.get("blobId"))
            r = await act.do_append_message(call.deps.ctx, call.account_id, sorted(mbs), raw,
                                            flags=flags, keywords=kws, received_at=received)
            jid = ids.encode(ids.EMAIL, r.message_id)
            call.created_ids[cid] = jid
            created[cid] = {"id": jid, "blobId": ids.blob_id(r.blob_id),
                            "threadId": ids.encode(ids.THREAD, r.thread_id), "size": r.size}
        except Exception as exc:  # noqa: BLE001 - one email's failure never fails the call
            not_created[cid] = set_error_json(exc, call)
    return {"accountId": call.jmap_account_id, "oldState": old, "newState": await state(call),
            "created": created or None, "notCreated": not_created or None}
