"""Message actions: append/deliver (and MULTIAPPEND, RFC 3502), flags, copy, move, expunge,
destroy.

Delivery path (RFC 5321 §4.5.5 "once accepted, never lost"): the raw bytes are parsed (on the
event loop up to ``mime.parse.INLINE_PARSE_MAX``, else on a thread; or the caller's parse is
used), written to the blob store (fsynced), then one write op stores the metadata, index
rows and change log for *all* target mailboxes in one transaction; only then does the action
return (and SMTP may answer 250). A crash between the blob write and the commit leaves an
unreferenced blob that garbage collection removes; never a message without its bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rongmail.actions.context import ActionContext
from rongmail.core.changes import Change
from rongmail.core.models import AppendResult
from rongmail.core.search_tokens import index_tokens
from rongmail.core.thread import normalize_subject
from rongmail.errors import NotFound, TooLarge, ValidationError
from rongmail.mime.model import Addr, ParsedMessage
from rongmail.mime.parse import INLINE_PARSE_MAX, parse_message
from rongmail.store.sql import directory as d
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Op

#: ``json.dumps(obj, ensure_ascii=False)`` builds this very encoder on every call; one shared
#: instance (stateless between ``encode`` calls) gives the same text without that cost.
_JSON = json.JSONEncoder(ensure_ascii=False)


def _addr_json(addrs: list[Addr]) -> str:
    if not addrs:
        return "[]"  # == json.dumps([]); most messages have no Cc, Bcc, Reply-To or Sender
    return _JSON.encode([a.to_json() for a in addrs])


def _addr_text(addrs: list[Addr]) -> str:
    return " ".join(f"{a.name} {a.email}" for a in addrs)


def new_message_record(
    parsed: ParsedMessage, blob_id: str, size: int, received_at: int
) -> ml.NewMessage:
    """Map a parsed message to its stored columns and search tokens (pure)."""
    base = normalize_subject(parsed.subject)
    return ml.NewMessage(
        blob_id=blob_id,
        size=size,
        received_at=received_at,
        sent_at=int(parsed.date.timestamp()) if parsed.date else None,
        msgid=parsed.message_id,
        in_reply_to=tuple(parsed.in_reply_to),
        references=tuple(parsed.references),
        subject=parsed.subject,
        base_subject=base,
        is_reply=bool(parsed.in_reply_to or parsed.references) or base != parsed.subject.strip(),
        from_=_addr_json(parsed.from_),
        to=_addr_json(parsed.to),
        cc=_addr_json(parsed.cc),
        bcc=_addr_json(parsed.bcc),
        reply_to=_addr_json(parsed.reply_to),
        sender=_addr_json(parsed.sender),
        preview=parsed.preview,
        has_attachment=parsed.has_attachment,
        header_size=parsed.header_size,
        bodystructure=_JSON.encode(parsed.body.to_json()),
        envelope=_JSON.encode(parsed.envelope.to_json()),
        search={
            "subject": index_tokens(parsed.subject),
            "from_": index_tokens(_addr_text(parsed.from_ + parsed.sender)),
            "to_": index_tokens(_addr_text(parsed.to)),
            "cc": index_tokens(_addr_text(parsed.cc)),
            "bcc": index_tokens(_addr_text(parsed.bcc)),
            "body": index_tokens(parsed.text_body),
            "attachments": index_tokens(" ".join(a.filename or "" for a in parsed.attachments)),
        },
    )


async def tenant_of(ctx: ActionContext, account_id: int) -> int:
    t = ctx.tenant_of.get(account_id)
    if t is None:
        acct = await ctx.meta.read(d.get_account(account_id))
        if acct is None:
            raise NotFound("user.unknown", email=str(account_id))
        t = ctx.tenant_of[account_id] = acct.tenant_id
    return t


@dataclass(frozen=True, slots=True)
class Target:
    """Where one copy of a delivered message goes: a mailbox id, or a role (``inbox``,
    ``junk``) resolved inside the transaction."""

    account_id: int
    mailbox_id: int | None = None
    role: str = "inbox"
    flags: int = 0
    keywords: frozenset[str] = frozenset()


def _check_size(ctx: ActionContext, raw: bytes) -> None:
    limit = ctx.settings.limits.max_message_bytes
    if len(raw) > limit:
        raise TooLarge(limit=limit)
    if not raw:
        raise ValidationError(what="message")


def _sealed(ctx: ActionContext, tenant: int, raw: bytes) -> tuple[str, bytes] | None:
    """``(blob id, sealed bytes)`` when the blob store keeps a body this small in the
    metadata store (``store.inline_blobs``): the caller puts them in its record
    (``NewMessage.blob_data``) and the commit that references the body stores it. None: the
    body goes to :meth:`BlobStore.put`, durable before that commit."""
    seal = getattr(ctx.blobs, "seal_inline", None)
    return seal(tenant, raw) if seal is not None else None


async def _stored_body(ctx: ActionContext, tenant: int, raw: bytes) -> tuple[str, bytes | None]:
    """The blob id of ``raw`` and, for a small body, its sealed bytes (see :func:`_sealed`);
    a larger body is written and made durable here."""
    sealed = _sealed(ctx, tenant, raw)
    if sealed is not None:
        return sealed
    return await ctx.blobs.put(tenant, raw), None


async def do_deliver(
    ctx: ActionContext, raw: bytes, targets: Sequence[Target], *,
    received_at: int | None = None, parsed: ParsedMessage | None = None,
    extra: Op[Any] | None = None,
) -> list[AppendResult]:
    """Store one message for several recipients in ONE transaction (one fsync for all).

    ``extra``: bookkeeping that commits with the delivery, run in the same transaction after
    the copies are stored (inbound SMTP counts a clean message's sender there,
    :func:`rongmail.actions.spam.note_received_from`, instead of in a write of its own); it
    must not publish changes (its return value is dropped), and if it fails nothing is stored.

    Returns one result per target, in order. Raises (storing nothing) on any failure.
    """
    _check_size(ctx, raw)
    if not targets:
        return []
    when = received_at or int(time.time())
    tenants: list[int] = []
    for t in targets:
        tenant = await tenant_of(ctx, t.account_id)
        if tenant not in tenants:
            tenants.append(tenant)
    given = parsed

    def _record() -> ml.NewMessage:  # MIME parse + search tokens: CPU work
        msg = given if given is not None else parse_message(raw)
        return new_message_record(msg, "", len(raw), when)

    # A small message's sealed bytes are stored by the delivery's own transaction
    # (store.inline_blobs: one flush in all). Otherwise the blob writes (hash, encrypt, write,
    # shared flush) are started first; a small message is parsed and indexed on the loop
    # meanwhile (pure Python: a thread would only add a hand-off), a large one on a thread.
    # Both finish before the metadata commit, so the blob is durable before anything
    # references it.
    sealed = [_sealed(ctx, tn, raw) for tn in tenants]
    if all(s is not None for s in sealed):
        base = _record() if len(raw) <= INLINE_PARSE_MAX else await asyncio.to_thread(_record)
        records = {tn: replace(base, blob_id=s[0], blob_data=s[1])
                   for tn, s in zip(tenants, sealed, strict=True) if s is not None}
    else:
        puts = asyncio.gather(*(ctx.blobs.put(tn, raw) for tn in tenants))
        if len(raw) <= INLINE_PARSE_MAX:
            await asyncio.sleep(0)  # let the blob writes reach their thread first
            try:
                base = _record()
            except BaseException:
                puts.cancel()
                raise
            bids = await puts
        else:
            base, bids = await asyncio.gather(asyncio.to_thread(_record), puts)
        records = {tn: replace(base, blob_id=bid) for tn, bid in zip(tenants, bids, strict=True)}
    plan = [(t, ctx.tenant_of[t.account_id]) for t in targets]

    def op() -> Op[tuple[list[AppendResult], list[Change]]]:
        results: list[AppendResult] = []
        changes: list[Change] = []
        for t, tenant in plan:
            mbid = t.mailbox_id
            if mbid is None:
                mb = yield from ml.mailbox_by_role(t.account_id, t.role)
                if mb is None:
                    mb = yield from ml.mailbox_by_role(t.account_id, "inbox")
                if mb is None:
                    raise NotFound(what=f"inbox of {t.account_id}")
                mbid = mb.id
            r, c = yield from ml.append_message(t.account_id, tenant, [mbid], records[tenant],
                                                t.flags, t.keywords)
            results.append(r)
            changes.extend(c)
        if extra is not None:
            yield from extra
        return results, changes

    results, changes = await ctx.meta.write(op())
    ctx.bus.publish(changes)
    return results


async def do_append_message(
    ctx: ActionContext, account_id: int, mailbox_ids: Sequence[int], raw: bytes, *,
    flags: int = 0, keywords: frozenset[str] = frozenset(), received_at: int | None = None,
) -> AppendResult:
    """IMAP APPEND (RFC 9051 §6.3.12) / JMAP Email/import: one message into an account,
    in one or more of its mailboxes."""
    _check_size(ctx, raw)
    tenant = await tenant_of(ctx, account_id)
    parsed = await asyncio.to_thread(parse_message, raw)
    blob_id, data = await _stored_body(ctx, tenant, raw)
    rec = replace(new_message_record(parsed, blob_id, len(raw), received_at or int(time.time())),
                  blob_data=data)
    result, changes = await ctx.meta.write(
        ml.append_message(account_id, tenant, list(mailbox_ids), rec, flags, keywords))
    ctx.bus.publish(changes)
    return result


@dataclass(frozen=True, slots=True)
class NewAppend:
    """One message of a MULTIAPPEND: raw bytes with its flags and internal date."""

    raw: bytes
    flags: int = 0
    keywords: frozenset[str] = frozenset()
    received_at: int | None = None


async def do_append_messages(
    ctx: ActionContext, account_id: int, mailbox_id: int, messages: Sequence[NewAppend],
) -> list[AppendResult]:
    """IMAP MULTIAPPEND (RFC 3502 §6.3.11): every message into one mailbox in ONE
    transaction, so either all are stored or none is (a failure leaves only unreferenced
    blobs, which garbage collection removes). Results are in the order given."""
    if not messages:
        return []
    for m in messages:
        _check_size(ctx, m.raw)
    tenant = await tenant_of(ctx, account_id)
    now = int(time.time())
    items: list[tuple[ml.NewMessage, int, frozenset[str]]] = []
    for m in messages:
        parsed = await asyncio.to_thread(parse_message, m.raw)
        blob_id, data = await _stored_body(ctx, tenant, m.raw)
        rec = replace(new_message_record(parsed, blob_id, len(m.raw), m.received_at or now),
                      blob_data=data)
        items.append((rec, m.flags, m.keywords))
    results, changes = await ctx.meta.write(
        ml.append_messages(account_id, tenant, mailbox_id, items))
    ctx.bus.publish(changes)
    return results


async def do_set_flags(
    ctx: ActionContext, account_id: int, message_ids: Sequence[int], *, add: int = 0,
    remove: int = 0, add_keywords: frozenset[str] = frozenset(),
    remove_keywords: frozenset[str] = frozenset(),
    replace: tuple[int, frozenset[str]] | None = None, unchanged_since: int | None = None,
    durable: bool = False,
) -> tuple[list[tuple[int, int, frozenset[str], int]], list[int]]:
    """IMAP STORE (RFC 9051 §6.4.6, RFC 7162 UNCHANGEDSINCE) / JMAP keywords / the implicit
    ``\\Seen`` of FETCH BODY[] (RFC 9051 §6.4.5) and POP3.
    Returns (updated [(id, flags, keywords, modseq)], failed ids).

    Durability: a relaxed write by default (``MetaStore.write(durable=False)``): committed and
    visible when this returns, kept if the process dies, but an OS crash or power loss before
    the next durable commit may lose it (like Dovecot's ``mail_fsync=optimized``). Flag changes
    never create or remove mail; pass ``durable=True`` where a flag change must survive a
    power loss on its own."""
    updated, failed, changes = await ctx.meta.write(ml.set_flags(
        account_id, list(message_ids), add=add, remove=remove, add_keywords=add_keywords,
        remove_keywords=remove_keywords, replace=replace, unchanged_since=unchanged_since),
        durable=durable)
    ctx.bus.publish(changes)
    return updated, failed


async def do_copy_messages(
    ctx: ActionContext, account_id: int, message_ids: Sequence[int], mailbox_id: int,
    *, to_account_id: int | None = None,
) -> list[tuple[int, int]]:
    """Copy messages into a mailbox (IMAP COPY, RFC 9051 §6.4.7). Within one account the
    email gains a membership; into another account (shared mailboxes, JMAP Email/copy) a new
    email is created from the same blob. Returns [(source message id, new uid)]."""
    if to_account_id is None or to_account_id == account_id:
        pairs, changes = await ctx.meta.write(
            ml.add_to_mailbox(account_id, list(message_ids), mailbox_id))
        ctx.bus.publish(changes)
        return pairs
    src_tenant = await tenant_of(ctx, account_id)
    msgs = await ctx.meta.read(ml.get_messages(account_id, list(message_ids)))
    out = []
    for m in msgs:
        raw = await ctx.blobs.get(src_tenant, m.blob_id)
        r = await do_append_message(ctx, to_account_id, [mailbox_id], raw, flags=m.flags,
                                    keywords=m.keywords, received_at=m.received_at)
        out.append((m.id, r.uid))
    return out


async def do_move_messages(
    ctx: ActionContext, account_id: int, message_ids: Sequence[int], from_mailbox_id: int,
    to_mailbox_id: int,
) -> list[tuple[int, int]]:
    """IMAP MOVE (RFC 6851) / JMAP mailboxIds change, atomically."""
    pairs, changes = await ctx.meta.write(ml.add_to_mailbox(
        account_id, list(message_ids), to_mailbox_id, remove_from=from_mailbox_id))
    ctx.bus.publish(changes)
    return pairs


async def do_expunge(
    ctx: ActionContext, account_id: int, mailbox_id: int, *, uids: Sequence[int] | None = None,
) -> list[int]:
    """IMAP EXPUNGE / UID EXPUNGE: remove \\Deleted messages; returns the expunged UIDs."""
    expunged, changes, _released = await ctx.meta.write(
        ml.expunge(account_id, mailbox_id, None if uids is None else list(uids)))
    ctx.bus.publish(changes)
    return expunged


async def do_remove_from_mailbox(
    ctx: ActionContext, account_id: int, mailbox_id: int, uids: Sequence[int]
) -> list[int]:
    """POP3 DELE + QUIT: take ``uids`` out of one mailbox (the inbox), keeping the emails that
    are in other mailboxes; returns the removed UIDs."""
    removed, changes, _released = await ctx.meta.write(
        ml.remove_from_mailbox(account_id, mailbox_id, list(uids)))
    ctx.bus.publish(changes)
    return removed


async def do_destroy_messages(
    ctx: ActionContext, account_id: int, message_ids: Sequence[int]
) -> tuple[list[int], list[int]]:
    """JMAP Email/set destroy (every mailbox): returns (destroyed, not found)."""
    destroyed, missing, changes, _released = await ctx.meta.write(
        ml.destroy_messages(account_id, list(message_ids)))
    ctx.bus.publish(changes)
    return destroyed, missing
