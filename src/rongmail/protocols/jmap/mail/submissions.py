"""EmailSubmission objects and sending (RFC 8621 §7).

Sending hands the stored message to the SMTP outbound queue with
``actions.queue.do_enqueue_message`` (local recipients are delivered by the queue's local agent,
remote ones by its SMTP agent, with retries and DSNs). A submission whose ``sendAt`` lies in the
future stays ``pending`` (cancellable via ``undoStatus: canceled``) until
:func:`send_due` — run every few seconds by the JMAP package's background task — sends it.
Send-later: besides RFC 4865 ``HOLDUNTIL``/``HOLDFOR`` mail-from parameters, a client-supplied
``sendAt`` is honoured (a documented RongMail extension used by the webmail).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from rongmail.actions import jmap as jact
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.protocols.jmap.call import JmapDeps
from rongmail.protocols.jmap.mail.emails import utc_date
from rongmail.protocols.jmap.proto import ids
from rongmail.store.reader import SubmissionRow

log = logging.getLogger("rongmail.jmap")

PROPERTIES = ("id", "identityId", "emailId", "threadId", "envelope", "sendAt", "undoStatus",
              "deliveryStatus", "dsnBlobIds", "mdnBlobIds")


def submission_json(row: SubmissionRow) -> dict[str, Any]:
    return {"id": ids.encode(ids.SUBMISSION, row.id),
            "identityId": ids.encode(ids.IDENTITY, row.identity_id),
            "emailId": ids.encode(ids.EMAIL, row.email_id),
            "threadId": ids.encode(ids.THREAD, row.thread_id), "envelope": row.envelope,
            "sendAt": utc_date(row.send_at), "undoStatus": row.undo_status,
            "deliveryStatus": row.delivery_status or None, "dsnBlobIds": [], "mdnBlobIds": []}


def hold_until(envelope: dict[str, Any], now: int) -> int | None:
    """RFC 4865 FUTURERELEASE parameters on the envelope's mailFrom."""
    params = (envelope.get("mailFrom") or {}).get("parameters") or {}
    if not isinstance(params, dict):
        return None
    for k, v in params.items():
        if k.upper() == "HOLDFOR" and str(v).isdigit():
            return now + int(str(v))
        if k.upper() == "HOLDUNTIL" and isinstance(v, str):
            try:
                return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())
            except ValueError:
                return None
    return None


async def enqueue(deps: JmapDeps, tenant_id: int, account_id: int, raw: bytes,
                  envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Hand one message to the outbound queue. Returns (queue id, deliveryStatus)."""
    rcpts = [r["email"] for r in envelope.get("rcptTo", [])]
    queue_id = await do_enqueue_message(
        deps.ctx, tenant_id=tenant_id, raw=raw, mail_from=envelope["mailFrom"]["email"],
        recipients=[EnvelopeRecipient(r) for r in rcpts], source="jmap", account_id=account_id,
        smtputf8=not all(r.isascii() for r in rcpts), body_8bit=not raw.isascii())
    status = {r: {"smtpReply": "250 2.0.0 queued", "delivered": "queued",
                  "displayed": "unknown"} for r in rcpts}
    return queue_id, status


async def send_due(deps: JmapDeps, now: int | None = None) -> int:
    """Send every pending submission whose time has come; returns how many were sent."""
    sent = 0
    for row in await deps.reader.due_submissions(now if now is not None else int(time.time())):
        acct = await deps.reader.account(row.account_id)
        if acct is None:
            continue
        try:
            raw = await deps.reader.message_bytes(acct.tenant_id, row.blob_id)
            queue_id, status = await enqueue(deps, acct.tenant_id, acct.id, raw, row.envelope)
            await jact.do_update_submission(deps.ctx, acct.id, row.id, undo_status="final",
                                            delivery_status=status, queue_id=queue_id,
                                            only_if_pending=True)
            sent += 1
        except Exception:  # noqa: BLE001 - keep the row pending; retried next round
            log.exception("sending submission %s failed", row.id)
    return sent


async def sender_loop(deps: JmapDeps, interval: float = 5.0) -> None:
    while True:
        try:
            await send_due(deps)
        except Exception:  # noqa: BLE001 - the loop must survive a store hiccup
            log.exception("send-later round failed")
        await asyncio.sleep(interval)
