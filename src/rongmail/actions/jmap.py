"""JMAP-side writes: HTTP tokens and web sessions, uploads, Identity, EmailSubmission and
VacationResponse records (migration 0004). Like every action: validate, one write op (with change
rows where JMAP clients sync the object), then publish.

Mail data itself (emails, mailboxes, flags) is written by ``actions.messages`` and
``actions.mailboxes``; the outbound queue by ``actions.queue``.

The housekeeping purges (:func:`do_purge_expired_sessions`, :func:`do_purge_submissions`,
:func:`do_purge_uploads`) are the exception to "one write op": they delete in bounded batches, one relaxed transaction each,
so the write lock is never held for long; every batch is complete on its own.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from functools import partial
from typing import Any

from rongmail.actions.batches import in_batches
from rongmail.actions.context import ActionContext
from rongmail.actions.messages import tenant_of
from rongmail.errors import NotFound, TooLarge, ValidationError
from rongmail.store.sql import auth as sa
from rongmail.store.sql import jmap as jm

SESSION_TTL = 14 * 86400
BEARER_TTL = 365 * 86400


def token_hash(token: str) -> str:
    """Tokens are stored hashed; the secret only ever exists on the client."""
    return hashlib.sha256(token.encode()).hexdigest()


async def do_create_token(
    ctx: ActionContext, account_id: int, *, kind: str, name: str = "", ttl: int | None = None,
) -> tuple[str, str]:
    """A new bearer token or web session. Returns (secret token, csrf token)."""
    if kind not in ("bearer", "session"):
        raise ValidationError(what="kind")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "session" else ""
    now = int(time.time())
    life = ttl if ttl is not None else (SESSION_TTL if kind == "session" else BEARER_TTL)
    await ctx.meta.write(jm.insert_token(token_hash(token), account_id, kind, name, csrf, now,
                                         now + life))
    return token, csrf


async def do_revoke_token(ctx: ActionContext, token: str) -> None:
    await ctx.meta.write(jm.delete_token(token_hash(token)))


async def do_purge_expired_sessions(ctx: ActionContext, *, now: int | None = None) -> int:
    """Housekeeping of the HTTP credentials: delete bearer tokens and web sessions expired at
    ``now`` (``http_token``; never accepted again), then the ``session_info`` rows whose token
    is gone (expired, purged or signed out), then wipe requests older than ``SESSION_TTL``
    (``session_wipe``: the cookie they wait for has expired in the browser). Returns the rows
    removed from the three tables together.

    Each table is purged in batches (``store.sql.jmap.PURGE_BATCH`` tokens,
    ``store.sql.auth.SESSION_PURGE_BATCH`` other rows), each one relaxed transaction (a batch
    a crash undoes is redone next time), until a batch comes back short."""
    now = int(time.time()) if now is None else now
    removed = await in_batches(ctx, partial(jm.purge_tokens, now), jm.PURGE_BATCH)
    removed += await in_batches(ctx, sa.purge_orphan_session_info, sa.SESSION_PURGE_BATCH)
    removed += await in_batches(ctx, partial(sa.purge_session_wipes, now - SESSION_TTL),
                           sa.SESSION_PURGE_BATCH)
    return removed


async def do_upload_blob(
    ctx: ActionContext, account_id: int, data: bytes, content_type: str, *, limit: int,
) -> str:
    """RFC 8620 §6.1: store an uploaded blob (encrypted, content-addressed) and remember that
    this account may use it. Returns the store blob id."""
    if len(data) > limit:
        raise TooLarge(limit=limit)
    tenant = await tenant_of(ctx, account_id)
    blob_id = await ctx.blobs.put(tenant, data)
    await ctx.meta.write(jm.record_upload(account_id, blob_id, len(data), content_type[:255],
                                          int(time.time())))
    return blob_id


#: RFC 8620 §6.1: an unreferenced upload is kept at least this long (seconds)
UPLOAD_MIN_AGE = 3600


async def do_purge_uploads(ctx: ActionContext, *, before: int) -> int:
    """Forget uploads (``jmap_upload`` rows) last uploaded before ``before``: the account can
    no longer download the blob or use it in Email/import or as an Email/set attachment
    through the upload (``store.sql.jmap.purge_uploads``). Emails made from an
    upload keep their own message row and blob reference, so they are unaffected. While an
    upload row lives it keeps its blob from blob GC (``store.sql.blobs``); once it goes, the
    blob is collected unless an email references it. Raises ``ValidationError`` for a
    cut-off younger than :data:`UPLOAD_MIN_AGE` (RFC 8620 §6.1's one hour). Returns how many
    rows went.

    Batches of ``store.sql.jmap.PURGE_BATCH`` rows, each one relaxed transaction (a batch a
    crash undoes is redone next time), until a batch comes back short."""
    if before > int(time.time()) - UPLOAD_MIN_AGE:
        raise ValidationError(what="before")
    return await in_batches(ctx, lambda n: jm.purge_uploads(before, n), jm.PURGE_BATCH)


def _json_or_none(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False)


async def do_create_identity(
    ctx: ActionContext, account_id: int, *, name: str, email: str,
    reply_to: list[dict[str, str]] | None = None, bcc: list[dict[str, str]] | None = None,
    text_signature: str = "", html_signature: str = "", may_delete: bool = True,
) -> jm.IdentityRow:
    row, changes = await ctx.meta.write(jm.create_identity(
        account_id, name, email, _json_or_none(reply_to), _json_or_none(bcc), text_signature,
        html_signature, may_delete=may_delete))
    ctx.bus.publish(changes)
    return row


async def do_update_identity(
    ctx: ActionContext, account_id: int, identity_id: int, values: dict[str, Any]
) -> None:
    cols = {k: (_json_or_none(v) if k in ("reply_to", "bcc") else v) for k, v in values.items()}
    changes = await ctx.meta.write(jm.update_identity(account_id, identity_id, cols))
    ctx.bus.publish(changes)


async def do_update_builtin_identity(
    ctx: ActionContext, account_id: int, values: dict[str, Any]
) -> None:
    """Edit the account's built-in identity (its own address): the first edit stores it as an
    undeletable row, later edits update that row."""
    from rongmail.store.sql import directory as d

    acct = await ctx.meta.read(d.get_account(account_id))
    if acct is None:
        raise NotFound(what=f"account {account_id}")
    rows = await ctx.meta.read(jm.list_identities(account_id))
    row = next((r for r in rows if not r.may_delete and r.email == acct.address), None)
    if row is None:
        row = await do_create_identity(ctx, account_id, name=acct.display_name,
                                       email=acct.address, may_delete=False)
    await do_update_identity(ctx, account_id, row.id, values)


async def do_delete_identity(ctx: ActionContext, account_id: int, identity_id: int) -> None:
    changes = await ctx.meta.write(jm.delete_identity(account_id, identity_id))
    ctx.bus.publish(changes)


async def do_create_submission(
    ctx: ActionContext, account_id: int, *, identity_id: int, email_id: int, thread_id: int,
    envelope: dict[str, Any], send_at: int, undo_status: str, blob_id: str,
    on_success: dict[str, Any] | None = None,
) -> jm.SubmissionRow:
    row, changes = await ctx.meta.write(jm.create_submission(
        account_id, identity_id, email_id, thread_id, envelope, send_at, undo_status, blob_id,
        json.dumps(on_success or {}), int(time.time())))
    ctx.bus.publish(changes)
    return row


async def do_update_submission(
    ctx: ActionContext, account_id: int, submission_id: int, *, undo_status: str | None = None,
    delivery_status: dict[str, Any] | None = None, queue_id: int | None = None,
    only_if_pending: bool = False,
) -> jm.SubmissionRow:
    row, changes = await ctx.meta.write(jm.update_submission(
        account_id, submission_id, undo_status=undo_status, delivery_status=delivery_status,
        queue_id=queue_id, only_if_pending=only_if_pending))
    ctx.bus.publish(changes)
    return row


async def do_delete_submission(ctx: ActionContext, account_id: int, submission_id: int) -> None:
    changes = await ctx.meta.write(jm.delete_submission(account_id, submission_id))
    ctx.bus.publish(changes)


async def do_purge_submissions(ctx: ActionContext, *, before: int) -> int:
    """Forget EmailSubmission objects whose sending is over (``undoStatus`` final or canceled,
    ``sendAt`` before ``before``, gone from the outbound queue; RFC 8621 §7 lets a server
    delete them after a while), logging each as destroyed exactly as ``EmailSubmission/set``
    destroy does and publishing those changes, so clients' ``/changes`` stay correct. Pending
    ones are never touched. Returns how many were removed.

    Batches of ``store.sql.jmap.PURGE_BATCH`` rows, each one relaxed transaction (rows, modseq
    bumps and change rows commit or vanish together), until a batch comes back short."""
    removed = 0
    while True:
        limit = jm.PURGE_BATCH
        changes = await ctx.meta.write(jm.purge_submissions(before, limit), durable=False)
        if changes:
            ctx.bus.publish(changes)
        removed += len(changes)
        if len(changes) < limit:
            return removed


async def do_set_vacation(ctx: ActionContext, row: jm.VacationRow) -> None:
    changes = await ctx.meta.write(jm.set_vacation(row))
    ctx.bus.publish(changes)
