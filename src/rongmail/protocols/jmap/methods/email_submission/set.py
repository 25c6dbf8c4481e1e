"""EmailSubmission/set (RFC 8621 §7.5).

create: checks the identity and the envelope (``forbiddenMailFrom``, ``noRecipients``,
``invalidEmail``), then either hands the message to the outbound queue now (``undoStatus:
final``) or, for a future ``sendAt``/``HOLDUNTIL``/``HOLDFOR``, stores it ``pending``.
``onSuccessUpdateEmail``/``onSuccessDestroyEmail`` run as an implicit ``Email/set`` whose
response follows this one (RFC 8621 §7.5; for send-later they run when the submission is
created, so the draft leaves Drafts immediately). update: only ``undoStatus: canceled`` of a
pending submission (``cannotUnsend`` otherwise). destroy: forgets the record.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rongmail.actions import jmap as jact
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.emails import utc_date
from rongmail.protocols.jmap.mail.identities import all_identities
from rongmail.protocols.jmap.mail.submissions import enqueue, hold_until
from rongmail.protocols.jmap.methods.email.set import email_set
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import SetError
from rongmail.protocols.jmap.standard import SET_ARGS, run_set

ARGS = (*SET_ARGS, "onSuccessUpdateEmail", "onSuccessDestroyEmail")


def _address(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict) or not isinstance(v.get("email"), str) or "@" not in v["email"]:
        raise SetError("invalidProperties", properties=["envelope"])
    return {"email": v["email"], "parameters": v.get("parameters")}


async def submission_set(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    on_update = args.opt_obj("onSuccessUpdateEmail") or {}
    on_destroy = args.opt_str_list("onSuccessDestroyEmail") or []
    reader = call.deps.reader
    ctx = call.deps.ctx
    email_of: dict[str, int] = {}  # submission JMAP id -> email db id

    async def create(cid: str, obj: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in obj if k not in ("identityId", "emailId", "envelope", "sendAt")]
        if bad:
            raise SetError("invalidProperties", properties=bad)
        identities = await all_identities(reader, call.account)
        identity = identities.get(call.require(ids.IDENTITY, obj.get("identityId"), "identityId"))
        if identity is None:
            raise SetError("invalidProperties", properties=["identityId"])
        email_id = call.require(ids.EMAIL, obj.get("emailId"), "emailId")
        found = await reader.messages(call.account_id, [email_id])
        if not found:
            raise SetError("invalidEmail", properties=["emailId"])
        m = found[0]
        if m.from_ and identity["email"].lower() not in {a[1].lower() for a in m.from_}:
            raise SetError("forbiddenFrom")
        now = int(time.time())
        env = obj.get("envelope")
        envelope: dict[str, Any]
        if env is None:
            rcpts = list(dict.fromkeys(a[1] for a in (*m.to, *m.cc, *m.bcc) if a[1]))
            envelope = {"mailFrom": {"email": identity["email"], "parameters": None},
                        "rcptTo": [{"email": r, "parameters": None} for r in rcpts]}
        elif isinstance(env, dict) and isinstance(env.get("rcptTo"), list):
            envelope = {"mailFrom": _address(env.get("mailFrom")),
                        "rcptTo": [_address(r) for r in env["rcptTo"]]}
        else:
            raise SetError("invalidProperties", properties=["envelope"])
        if envelope["mailFrom"]["email"].lower() != identity["email"].lower():
            raise SetError("forbiddenMailFrom")
        if not envelope["rcptTo"]:
            raise SetError("noRecipients")
        send_at = hold_until(envelope, now) or now
        if isinstance(obj.get("sendAt"), str):
            try:
                send_at = int(datetime.fromisoformat(
                    obj["sendAt"].replace("Z", "+00:00")).timestamp())
            except ValueError:
                raise SetError("invalidProperties", properties=["sendAt"]) from None
        pending = send_at > now
        row = await jact.do_create_submission(
            ctx, call.account_id, identity_id=ids.decode(ids.IDENTITY, identity["id"]) or 0,
            email_id=m.id, thread_id=m.thread_id, envelope=envelope, send_at=max(send_at, now),
            undo_status="pending" if pending else "final", blob_id=m.blob_id)
        if not pending:
            raw = await reader.message_bytes(call.account.tenant_id, m.blob_id)
            queue_id, status = await enqueue(call.deps, call.account.tenant_id, call.account_id,
                                             raw, envelope)
            row = await jact.do_update_submission(ctx, call.account_id, row.id,
                                                  delivery_status=status, queue_id=queue_id)
        jid = ids.encode(ids.SUBMISSION, row.id)
        email_of[jid] = m.id
        return {"id": jid, "threadId": ids.encode(ids.THREAD, m.thread_id),
                "sendAt": utc_date(row.send_at),
                "undoStatus": row.undo_status}

    async def update(sid: int, patch: dict[str, Any]) -> dict[str, Any] | None:
        rows = await reader.submissions(call.account_id, [sid])
        if not rows:
            raise SetError("notFound")
        if set(patch) - {"undoStatus"} or patch.get("undoStatus") != "canceled":
            raise SetError("invalidProperties", properties=sorted(patch))
        if rows[0].undo_status != "pending":
            raise SetError("cannotUnsend")
        row = await jact.do_update_submission(ctx, call.account_id, sid,
                                              undo_status="canceled", only_if_pending=True)
        if row.undo_status != "canceled":
            raise SetError("cannotUnsend")
        return None

    async def destroy(sid: int) -> None:
        await jact.do_delete_submission(ctx, call.account_id, sid)

    result = await run_set(call, args, ids.SUBMISSION, create=create, update=update,
                           destroy=destroy)
    await _on_success(call, result, on_update, on_destroy, email_of)
    return result


async def _on_success(call: Call, result: dict[str, Any], on_update: dict[str, Any],
                      on_destroy: list[str], email_of: dict[str, int]) -> None:
    """RFC 8621 §7.5: the implicit Email/set for successfully created/updated submissions."""
    succeeded = {v["id"] for v in (result.get("created") or {}).values()}

    def target(key: str) -> str | None:
        sid = call.created_ids.get(key[1:]) if key.startswith("#") else key
        if sid is None or sid not in succeeded or sid not in email_of:
            return None
        return ids.encode(ids.EMAIL, email_of[sid])

    updates = {e: patch for k, patch in on_update.items() if (e := target(k))}
    destroys = [e for k in on_destroy if (e := target(k))]
    if not updates and not destroys:
        return
    args: dict[str, Any] = {"accountId": call.jmap_account_id}
    if updates:
        args["update"] = updates
    if destroys:
        args["destroy"] = destroys
    call.implicit.append(("Email/set", await email_set(call, args)))
