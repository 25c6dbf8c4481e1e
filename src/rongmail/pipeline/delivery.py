"""The :class:`~rongmail.pipeline.ports.Delivery` over ``actions`` (the only write path).

One accepted message is committed by exactly ONE write, so a crash or an error can never leave
it half delivered (and a client retry can never duplicate a part):

* every recipient local and inside our domains -> :func:`actions.messages.do_deliver` stores it
  into each account's Inbox, or Junk when the verdict says JUNK, in one transaction (accounts
  reached through several recipients, e.g. a group and its member, get one copy);
* otherwise (a remote recipient, or an alias member outside our domains) ->
  :func:`actions.queue.do_enqueue_message` queues every recipient in one transaction; the queue's
  local agent then delivers the local ones with the same folder role.

Trace headers (``Received``) and detection headers from the verdict (``Authentication-Results``)
are prepended: passed as ``prepend`` to the queue (the blob stays the client's bytes), and put
in front of the stored copy for local delivery, where ``do_deliver`` has no metadata slot yet;
the stored copy's parse is derived from the session's parse of the message
(:func:`rongmail.mime.parse.with_prepended_header`), so it is not parsed twice.
Both actions fsync before returning, so the SMTP 250 that follows is durable (RFC 5321 §6.1).

Sender bookkeeping (first-contact rules, issue 9): when the inbound verdict is clean
(``spam.deliver``, accepted, not an authenticated submission) the From address (else the
envelope sender) is counted as a correspondent of the first local recipient's tenant. On
direct local delivery the count is part of the delivery's own transaction
(:func:`rongmail.actions.spam.note_received_from` as ``do_deliver``'s ``extra``): no second
write, commit or task per message. On the queue path it is a separate relaxed write in the
background (:func:`rongmail.actions.spam.do_note_received_from`) that never fails or delays the
reply.
"""

from __future__ import annotations

import asyncio
import logging

from rongmail.actions.context import ActionContext
from rongmail.actions.messages import Target, do_deliver
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.actions.spam import do_note_received_from, note_received_from
from rongmail.errors import ValidationError
from rongmail.mime.parse import with_prepended_header
from rongmail.pipeline.envelope import Envelope, Recipient
from rongmail.pipeline.stage import Action, Verdict
from rongmail.pipeline.stages.spam import CLEAN_TAG
from rongmail.pipeline.stages.submission import from_addresses
from rongmail.store.reader import Reader

log = logging.getLogger(__name__)


def _header_block(env: Envelope, verdict: Verdict) -> bytes:
    lines = [env.trace]
    for name, value in verdict.headers:
        lines.append(f"{name}: {value}\r\n".encode())
    return b"".join(lines)


def _notify(rcpt: Recipient) -> str | None:
    if rcpt.notify is None:
        return None
    return ",".join(sorted(rcpt.notify)) if rcpt.notify else "NEVER"


def _from_address(env: Envelope, message: bytes) -> str:
    """The first address of the message's From header field, or ``""``: from the session's
    parse when there is one (no second look at the header), else from the raw header."""
    if env.parsed is not None:
        return next((a.email for a in env.parsed.from_ if a.email), "")
    return next(iter(from_addresses(message)), "")


def _sender_to_note(env: Envelope, verdict: Verdict, message: bytes) -> tuple[int, str] | None:
    """(tenant, address) to count as a known correspondent after this delivery, or ``None``
    (see module doc: clean inbound mail only)."""
    if env.auth is not None or CLEAN_TAG not in verdict.tags or verdict.action is not Action.ACCEPT:
        return None
    tenant = next(
        (r.resolution.tenant_id for r in env.rcpts
         if r.is_local and r.resolution.tenant_id is not None),
        None,
    )
    address = _from_address(env, message) or env.mail_from or ""
    if tenant is None or not address:
        return None
    return tenant, address


class ActionDelivery:
    def __init__(self, ctx: ActionContext, reader: Reader) -> None:
        self._ctx = ctx
        self._reader = reader
        self._pending: set[asyncio.Future[None]] = set()  # queue-path sender notes in flight

    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        message = env.message
        if message is None or not env.rcpts:
            raise ValidationError(what="message")
        role = "junk" if verdict.action is Action.JUNK else "inbox"
        prepend = _header_block(env, verdict)
        direct = all(r.is_local and not r.resolution.external for r in env.rcpts)
        sender = _sender_to_note(env, verdict, message)
        if direct:
            accounts: list[int] = []
            for rcpt in env.rcpts:
                accounts.extend(a for a in rcpt.resolution.account_ids if a not in accounts)
            targets = [Target(account_id, role=role) for account_id in accounts]
            # the session parsed the message; derive the stored copy's parse from it
            parsed = (
                with_prepended_header(env.parsed, message, prepend)
                if env.parsed is not None
                else None
            )
            extra = note_received_from(*sender) if sender is not None else None
            results = await do_deliver(self._ctx, prepend + message, targets, parsed=parsed,
                                       extra=extra)
            return f"L{results[0].message_id}" if results else "L0"
        queue_id = await do_enqueue_message(
            self._ctx,
            tenant_id=await self._tenant(env),
            raw=message,
            mail_from=env.mail_from or "",
            recipients=[
                EnvelopeRecipient(
                    r.address,
                    orcpt=r.orcpt,
                    notify=_notify(r),
                    role=role,
                )
                for r in env.rcpts
            ],
            envid=env.envid,
            ret=env.ret,
            smtputf8=env.smtputf8,
            body_8bit=env.body == "8BITMIME",
            source="submission" if env.auth else "smtp",
            account_id=env.auth.account_id if env.auth else None,
            prepend=prepend,
        )
        if sender is not None:
            # bookkeeping only: its own write must not hold the 250 for one more commit
            task = asyncio.ensure_future(self._note_sender(env, *sender))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return f"Q{queue_id}"

    async def _note_sender(self, env: Envelope, tenant: int, address: str) -> None:
        try:
            await do_note_received_from(self._ctx, tenant, address)
        except Exception:  # noqa: BLE001 - the message is queued; bookkeeping must not fail it
            log.exception("counting the sender of session %s failed", env.session_id)

    async def _tenant(self, env: Envelope) -> int:
        """Whose queue: the sender's tenant when authenticated, else the first local
        recipient's, else the sender domain's, else the lowest tenant (relay networks)."""
        if env.auth is not None:
            return env.auth.tenant_id
        for rcpt in env.rcpts:
            if rcpt.resolution.tenant_id is not None:
                return rcpt.resolution.tenant_id
        domain = await self._reader.domain(env.mail_from_domain) if env.mail_from_domain else None
        if domain is not None:
            return domain.tenant_id
        domains = await self._reader.domains()
        if not domains:
            raise ValidationError(what="tenant")
        return min(d.tenant_id for d in domains)
