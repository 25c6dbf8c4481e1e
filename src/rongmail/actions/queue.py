"""Queue actions: the only write path into the outbound queue (ARCHITECTURE.md "actions").

* :func:`do_enqueue_message` — SMTP (after DATA), submission, DSN generation and forwarding
  call it. The blob is written and fsynced first, then one transaction inserts the message and
  all its recipients; only after it returns may SMTP answer 250 (RFC 5321 §4.5.5, §6.1: once
  accepted, a message must be delivered or bounced, never lost).
* :func:`do_retry_queue_message`, :func:`do_hold_queue_message`,
  :func:`do_release_queue_message`, :func:`do_delete_queue_message` — ``rongmail queue ...``
  and the admin API.
* :func:`do_record_attempts`, :func:`do_settle_notice`, :func:`do_purge_finished` — the
  scheduler's bookkeeping.

A submission (``account_id`` given: SMTP submission, JMAP) also counts its recipients as the
tenant's correspondents (``store.sql.spam.note_contacts``) in the same transaction, for the spam
filter's first-contact rules.

Queue rows are not account data, so these actions publish nothing on the change bus. Blobs are
never deleted here: a queued blob may be the same content-addressed blob as a delivered copy;
the garbage collector keeps every blob listed by ``store.sql.queue.queued_blob_ids``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rongmail.actions.context import ActionContext
from rongmail.config.queue import QueueSettings
from rongmail.core.address import normalize_domain
from rongmail.errors import NotFound, TooLarge, ValidationError
from rongmail.services.spam.contacts import all_keys
from rongmail.store.sql import queue as qs
from rongmail.store.sql import spam as ss
from rongmail.store.sql.q import Op

#: RFC 3461 §4.1 NOTIFY keywords.
_NOTIFY = {"NEVER", "SUCCESS", "FAILURE", "DELAY"}


@dataclass(frozen=True, slots=True)
class EnvelopeRecipient:
    """One RCPT TO with its DSN parameters and the folder role for local delivery."""

    address: str
    orcpt: str | None = None
    notify: str | None = None
    role: str = "inbox"


def _domain_of(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValidationError("address.invalid", address=address)
    domain = domain.strip("[]") if domain.startswith("[") else normalize_domain(domain)
    return domain


def _check_notify(notify: str | None) -> str | None:
    if notify is None:
        return None
    words = [w.strip().upper() for w in notify.split(",") if w.strip()]
    if not words or any(w not in _NOTIFY for w in words) or ("NEVER" in words and len(words) > 1):
        raise ValidationError(what=f"NOTIFY={notify}")
    return ",".join(words)


async def do_enqueue_message(
    ctx: ActionContext,
    *,
    tenant_id: int,
    raw: bytes,
    mail_from: str,
    recipients: Sequence[EnvelopeRecipient],
    envid: str | None = None,
    ret: str | None = None,
    smtputf8: bool = False,
    body_8bit: bool = False,
    source: str = "smtp",
    account_id: int | None = None,
    prepend: bytes = b"",
    lifetime: int | None = None,
    now: int | None = None,
) -> int:
    """Durably queue ``raw`` for ``recipients``; returns the queue id.

    ``mail_from`` is the bare reverse-path (``""`` for ``<>``). ``prepend`` holds header lines
    added by this server (``Received``, ``DKIM-Signature``) that are sent before the stored
    bytes; the blob itself is never rewritten.
    """
    if not recipients:
        raise ValidationError(what="recipients")
    limit = ctx.settings.limits.max_message_bytes
    if len(raw) > limit:
        raise TooLarge(limit=limit)
    if ret is not None and ret.upper() not in ("FULL", "HDRS"):
        raise ValidationError(what=f"RET={ret}")
    rows = [
        qs.NewRecipient(r.address, _domain_of(r.address), r.orcpt, _check_notify(r.notify), r.role)
        for r in recipients
    ]
    when = now if now is not None else int(time.time())
    life = lifetime if lifetime is not None else queue_settings(ctx).retry.max_lifetime
    blob_id = await ctx.blobs.put(tenant_id, raw)
    contacts = all_keys(r.address for r in recipients) if account_id is not None else []
    return await ctx.meta.write(
        _with_contacts(
            tenant_id,
            contacts,
            when,
            qs.insert_message(
                qs.NewQueued(
                    tenant_id=tenant_id,
                    blob_id=blob_id,
                    size=len(raw) + len(prepend),
                    mail_from=mail_from,
                    recipients=rows,
                    created_at=when,
                    expires_at=when + life,
                    envid=envid,
                    ret=ret.upper() if ret else None,
                    smtputf8=smtputf8,
                    body_8bit=body_8bit,
                    source=source,
                    account_id=account_id,
                    prepend=prepend,
                )
            ),
        )
    )


def _with_contacts(tenant_id: int, keys: Sequence[str], now: int, op: Op[int]) -> Op[int]:
    queue_id = yield from op
    if keys:
        yield from ss.note_contacts(tenant_id, keys, sent=1, received=0, now=now)
    return queue_id


def queue_settings(ctx: ActionContext) -> QueueSettings:
    """``Settings.queue`` (defaults until the root settings carry the queue section)."""
    got = getattr(ctx.settings, "queue", None)
    return got if isinstance(got, QueueSettings) else QueueSettings.model_validate({})


async def _existing(ctx: ActionContext, message_id: int) -> qs.QueuedMessage:
    m = await ctx.meta.read(qs.get_message(message_id))
    if m is None:
        raise NotFound(what=f"queue {message_id}")
    return m


async def do_retry_queue_message(ctx: ActionContext, message_id: int) -> int:
    """Make every undelivered recipient due now (``postqueue -i``); returns how many."""
    await _existing(ctx, message_id)
    return await ctx.meta.write(qs.retry_now(message_id, int(time.time())))


async def do_hold_queue_message(ctx: ActionContext, message_id: int) -> None:
    """Stop delivery attempts until released (``postsuper -h``)."""
    if not await ctx.meta.write(qs.set_held(message_id, True)):
        raise NotFound(what=f"queue {message_id}")


async def do_release_queue_message(ctx: ActionContext, message_id: int) -> None:
    """Undo a hold; the recipients become due at once (``postsuper -H``)."""
    if not await ctx.meta.write(qs.set_held(message_id, False)):
        raise NotFound(what=f"queue {message_id}")
    await ctx.meta.write(qs.retry_now(message_id, int(time.time())))


async def do_delete_queue_message(ctx: ActionContext, message_id: int) -> None:
    """Drop the message without a bounce (``postsuper -d``)."""
    if await ctx.meta.write(qs.delete_message(message_id)) is None:
        raise NotFound(what=f"queue {message_id}")


async def do_record_attempts(ctx: ActionContext, attempts: Sequence[qs.Attempt]) -> None:
    await ctx.meta.write(qs.record_attempts(attempts))


async def do_release_lease(ctx: ActionContext, recipient_ids: Sequence[int]) -> None:
    await ctx.meta.write(qs.release_lease(recipient_ids, int(time.time())))


async def do_settle_notice(
    ctx: ActionContext,
    *,
    recipient_ids: Sequence[int],
    delay: bool,
    tenant_id: int,
    report: bytes | None,
    to: str,
    lifetime: int,
) -> int | None:
    """Queue one DSN for ``recipient_ids`` and mark them reported, atomically (see
    ``store.sql.queue.settle_notice``); ``report=None`` only marks them (no DSN was wanted).
    Raises :class:`rongmail.errors.Conflict` when another scheduler settled them first."""
    notice = None
    if report is not None:
        now = int(time.time())
        blob_id = await ctx.blobs.put(tenant_id, report)
        notice = qs.NewQueued(
            tenant_id=tenant_id, blob_id=blob_id, size=len(report), mail_from="",
            recipients=[qs.NewRecipient(to, _domain_of(to))], created_at=now,
            expires_at=now + lifetime, source="dsn", smtputf8=not to.isascii(),
        )  # fmt: skip
    return await ctx.meta.write(qs.settle_notice(recipient_ids, delay=delay, notice=notice))


async def do_purge_finished(ctx: ActionContext) -> list[qs.QueuedMessage]:
    """Remove finished messages; a read first, so the scheduler's poll of a queue with
    nothing finished opens no write transaction (see ``store.sql.queue.any_due``)."""
    if not await ctx.meta.read(qs.any_finished()):
        return []
    return await ctx.meta.write(qs.purge_finished())


async def do_store_sts_policy(ctx: ActionContext, row: qs.StsPolicyRow) -> None:
    """Persist a fetched MTA-STS policy (RFC 8461 §5: the cache must survive restarts)."""
    await ctx.meta.write(qs.put_sts_policy(row))
