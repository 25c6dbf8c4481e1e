"""Spam actions (issue 9): the only write path for filter settings, per-tenant models, the
quarantine, learning feedback, quarantine digests and outbound-abuse alerts.

* :class:`SpamModels` keeps each tenant's :class:`~rongmail.services.spam.ContentModel` in
  memory, loaded lazily from ``spam_model`` on first use and saved by
  :func:`do_save_spam_model` when dirty (``flush``, run periodically by ``run_saver`` and once
  on shutdown). Learning and serialization run off the event loop under a per-tenant lock.
* :func:`do_quarantine_message` stores the bytes as a blob and one row per recipient account
  (inbound) or one row for the sender (outbound) in one transaction; held rows keep the blob
  alive for GC. :func:`do_release_quarantine` delivers an inbound copy into the recipient's
  Inbox (or queues an outbound one), learns *ham* and counts an inbound sender as known;
  :func:`do_delete_quarantine` drops it and learns *spam* (inbound only: outbound holds say
  nothing about the tenant's inbound mail). :func:`do_purge_quarantine` expires held rows past
  their retention; :func:`do_purge_decided_quarantine` deletes released/deleted rows later on
  (housekeeping, in bounded batches of relaxed transactions).
* :func:`do_note_received_from` counts a sender whose clean mail reached an Inbox as one of the
  tenant's correspondents (``spam_contact``; sent mail is counted by
  :func:`rongmail.actions.queue.do_enqueue_message`), for first-contact rules; a relaxed
  (committed, not fsynced) write. :func:`note_received_from` is the same count as an op that
  inbound local delivery commits in its own transaction (``pipeline.delivery``).
* :func:`do_learn_messages` is the learner worker's write: it trains the tenant model on user
  actions and records what it learned per message (``spam_learned``) so repeated moves are
  idempotent;
  :func:`do_purge_orphan_learned` deletes the records of messages that are gone
  (housekeeping).

Model bytes are bounded by ``store.sql.spam.MAX_MODEL_BYTES``; learning reads stored bytes with
the server-added header block stripped (:func:`learnable`), so the model sees the same features
the pipeline stage scored (and never learns from our own ``X-RongMail-Spam`` header).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rongmail.actions.batches import in_batches
from rongmail.actions.context import ActionContext
from rongmail.actions.messages import Target, do_deliver
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.errors import Conflict, NotFound, ValidationError
from rongmail.i18n import t
from rongmail.mime.parse import parse_message
from rongmail.services.spam import Thresholds
from rongmail.services.spam import Verdict as SpamVerdict
from rongmail.store.sql import directory as d
from rongmail.store.sql import spam as ss
from rongmail.store.sql.q import Op

if TYPE_CHECKING:
    from rongmail.services.spam.classifier import ContentModel

log = logging.getLogger(__name__)

#: Header the pipeline stage adds to every scanned inbound message (score, action and tags).
SPAM_HEADER = "X-RongMail-Spam"
#: Roles allowed to act on every quarantined message of their tenant.
ADMIN_ROLES = frozenset({"super_admin", "tenant_admin", "admin"})
#: How long a quarantined message is kept before it expires (seconds).
QUARANTINE_TTL = 30 * 86400
#: Hashed feature space of new tenant models (``2**20`` weights: ~8 MiB serialized, saved at
#: most every few minutes). ``bench/spam_eval.py`` measures this setting by default; ``2**18``
#: costs about four points of spam caught at 0.1 % false positives on the SpamAssassin corpus.
MODEL_BITS = 20

_SERVER_FIELDS = (b"authentication-results", b"x-rongmail-spam")


def learnable(raw: bytes) -> bytes:
    """``raw`` without the header block this server prepends at delivery (our ``Received``
    trace, ``Authentication-Results`` and ``X-RongMail-Spam``), i.e. the bytes the pipeline
    stage scored."""
    pos = 0
    received = 0
    while pos < len(raw):
        end = raw.find(b"\r\n", pos)
        if end < 0:
            break
        nxt = end + 2
        while raw[nxt : nxt + 1] in (b" ", b"\t"):  # folded continuation lines
            e2 = raw.find(b"\r\n", nxt)
            if e2 < 0:
                break
            nxt = e2 + 2
        name = raw[pos:end].partition(b":")[0].strip().lower()
        if name in _SERVER_FIELDS or (name == b"received" and received == 0):
            received += name == b"received"
            pos = nxt
            continue
        break
    return raw[pos:]


def drop_header(raw: bytes, name: bytes) -> bytes:
    """``raw`` without any top-level header field called ``name`` (lower-case), e.g. our
    ``X-RongMail-Spam`` before a held outbound message leaves for the Internet."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw
    out: list[bytes] = []
    skipping = False
    for line in raw[: end + 2].split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                out.append(line)
            continue
        skipping = line.partition(b":")[0].strip().lower() == name
        if not skipping:
            out.append(line)
    return b"\r\n".join(out) + b"\r\n" + raw[end + 2 :]


def verdict_tags(verdict: SpamVerdict, *, limit: int = 40) -> tuple[dict[str, Any], ...]:
    """The policy's explanation as JSON-able rows (kept with a quarantined message)."""
    return tuple(
        {"name": s.tag.name, "detail": s.tag.detail, "score": s.score, "reason": s.reason}
        for s in verdict.tags[:limit]
    )


# -- settings ---------------------------------------------------------------------------------


async def do_set_spam_settings(
    ctx: ActionContext,
    tenant_id: int,
    *,
    thresholds: Thresholds,
    weights: dict[str, float] | None = None,
    enabled: bool = True,
    digest: bool = True,
) -> ss.SpamSettingsRow:
    """Store a tenant's thresholds and tag weight overrides (validated by the policy)."""
    from rongmail.services.spam import Policy

    try:
        Policy(thresholds, weights)
    except ValueError as exc:
        raise ValidationError(what="spam settings", detail=str(exc)) from None
    row = ss.SpamSettingsRow(
        tenant_id,
        enabled,
        thresholds.junk,
        thresholds.quarantine,
        thresholds.reject,
        dict(weights or {}),
        digest,
        int(time.time()),
    )
    await ctx.meta.write(ss.put_settings(row))
    return row


# -- correspondents ---------------------------------------------------------------------------


def note_received_from(tenant_id: int, address: str, *, now: int | None = None) -> Op[None] | None:
    """The write op counting one clean message received from ``address`` (address key only:
    one sender at a domain says nothing about the others), or ``None`` when ``address`` has no
    key (null or malformed). For callers that commit it inside another transaction:
    ``pipeline.delivery`` passes it to :func:`rongmail.actions.messages.do_deliver` as
    ``extra``, so a clean inbound message and its sender's count commit together, with no
    write (nor commit) of their own."""
    from rongmail.services.spam.contacts import contact_keys

    keys = contact_keys(address)[:1]
    if not keys:
        return None
    return ss.note_contacts(
        tenant_id, keys, sent=0, received=1, now=int(time.time()) if now is None else now
    )


async def do_note_received_from(
    ctx: ActionContext, tenant_id: int, address: str, *, now: int | None = None
) -> None:
    """Count one clean message received from ``address`` (:func:`note_received_from`) on its
    own.

    A *relaxed* write (``durable=False``, see :class:`rongmail.store.ports.MetaStore`): the
    count is committed and visible when this returns and survives a process kill, but an OS
    crash or power loss before the next durable commit may lose the last counts. That is an
    accepted trade: the counts only feed first-contact scoring (a lost count makes the
    sender's next message look like a first contact once more, never loses mail), and it
    spares the caller an fsync. Inbound SMTP does not use it for local delivery (the count
    rides in the delivery's own transaction, see :func:`note_received_from`)."""
    op = note_received_from(tenant_id, address, now=now)
    if op is not None:
        await ctx.meta.write(op, durable=False)


# -- models -----------------------------------------------------------------------------------


def _classifier() -> ModuleType:
    """The content classifier, imported on first use: it loads NumPy, which a process that
    neither filters inbound mail nor learns never needs (``services.spam``); a process serving
    SMTP loads it at start (``app.warm_up_inbound``)."""
    from rongmail.services.spam import classifier

    return classifier


async def do_save_spam_model(ctx: ActionContext, tenant_id: int, model: ContentModel) -> int:
    """Serialize (off the loop) and store a tenant's model; returns the stored size."""
    data = await asyncio.to_thread(model.to_bytes)
    await ctx.meta.write(ss.put_model(tenant_id, data, model.n_spam, model.n_ham, int(time.time())))
    return len(data)


class SpamModels:
    """Per-tenant content models: lazy load, online learning, periodic save.

    One instance per process, shared by the pipeline stage (scoring), the learner worker and
    quarantine release (learning). At most ``max_tenants`` models stay in memory; clean ones
    are evicted first (a dirty one is saved before it is dropped).
    """

    def __init__(
        self, ctx: ActionContext, *, bits: int = MODEL_BITS, max_tenants: int = 64
    ) -> None:
        self._ctx = ctx
        self._bits = bits
        self._max = max_tenants
        self._models: dict[int, ContentModel] = {}
        self._dirty: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, tenant_id: int) -> asyncio.Lock:
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    async def get(self, tenant_id: int) -> ContentModel:
        m = self._models.get(tenant_id)
        if m is not None:
            return m
        async with self._lock(tenant_id):
            m = self._models.get(tenant_id)
            if m is not None:
                return m
            data = await self._ctx.meta.read(ss.get_model(tenant_id))
            # a first import takes ~0.2 s of CPU: not on the event loop
            classifier = await asyncio.to_thread(_classifier)
            m = None
            if data is not None:
                try:
                    m = await asyncio.to_thread(classifier.ContentModel.from_bytes, data)
                except classifier.StaleModel:
                    # Weights learned on another feature set index other features: a clean
                    # restart is the only correct reading (services/spam/classifier.py).
                    log.warning(
                        "spam model of tenant %d is from an older format; starting empty", tenant_id
                    )
                except ValueError:
                    log.warning("spam model of tenant %d unreadable; starting empty", tenant_id)
            if m is None:
                m = classifier.ContentModel(bits=self._bits)
            await self._evict()
            self._models[tenant_id] = m
            return m

    async def _evict(self) -> None:
        while len(self._models) >= self._max:
            victim = next(
                (k for k in self._models if k not in self._dirty), next(iter(self._models))
            )
            if victim in self._dirty:
                await self._save(victim)
            self._models.pop(victim, None)

    async def learn(self, tenant_id: int, raw: bytes, is_spam: bool) -> None:
        """Train the tenant's model on one stored message (server headers stripped)."""
        model = await self.get(tenant_id)
        body = learnable(raw)

        def step() -> None:
            model.learn(model.features(parse_message(body)), is_spam)

        async with self._lock(tenant_id):
            await asyncio.to_thread(step)
            self._dirty.add(tenant_id)

    async def _save(self, tenant_id: int) -> None:
        model = self._models.get(tenant_id)
        if model is None:
            return
        async with self._lock(tenant_id):
            self._dirty.discard(tenant_id)
            try:
                await do_save_spam_model(self._ctx, tenant_id, model)
            except Exception:
                self._dirty.add(tenant_id)
                raise

    async def flush(self) -> int:
        """Save every dirty model; returns how many were saved."""
        n = 0
        for tenant_id in list(self._dirty):
            try:
                await self._save(tenant_id)
                n += 1
            except Exception:  # noqa: BLE001 - one failing tenant must not block the others
                log.exception("saving the spam model of tenant %d failed", tenant_id)
        return n

    async def run_saver(self, every: float = 300.0) -> None:
        """Save dirty models every ``every`` seconds, and once more when cancelled."""
        try:
            while True:
                await asyncio.sleep(every)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())


# -- quarantine -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """What the pipeline knows about a message it holds instead of delivering."""

    tenant_id: int
    direction: str  # inbound | outbound
    account_ids: tuple[int, ...]  # recipients (inbound) or the sender (outbound)
    mail_from: str
    rcpts: tuple[str, ...]
    from_header: str
    subject: str
    score: float
    tags: tuple[dict[str, Any], ...]


async def do_quarantine_message(
    ctx: ActionContext,
    raw: bytes,
    held: HeldMessage,
    *,
    ttl: int = QUARANTINE_TTL,
) -> list[int]:
    """Hold ``raw`` (blob fsynced first, then one transaction for every row); returns the ids."""
    if held.direction not in ("inbound", "outbound"):
        raise ValidationError(what="quarantine direction")
    if not raw:
        raise ValidationError(what="message")
    blob_id = await ctx.blobs.put(held.tenant_id, raw)
    now = int(time.time())
    owners: Sequence[int | None] = held.account_ids or (None,)
    rows = [
        ss.NewQuarantine(
            held.tenant_id,
            a,
            held.direction,
            blob_id,
            len(raw),
            held.mail_from,
            held.rcpts,
            held.from_header,
            held.subject,
            held.score,
            held.tags,
            now,
            now + ttl,
        )
        for a in owners
    ]
    return await ctx.meta.write(ss.add_quarantine(rows))


#: Re-exported for callers above ``actions`` (protocols never import ``store.sql``).
QuarantineRow = ss.QuarantineRow


async def get_quarantine(ctx: ActionContext, qid: int) -> ss.QuarantineRow | None:
    """Read one quarantine row (a read helper for protocols; writes stay in ``do_*``)."""
    return await ctx.meta.read(ss.get_quarantine(qid))


async def list_quarantine(
    ctx: ActionContext,
    *,
    tenant_id: int | None = None,
    account_id: int | None = None,
    status: str | None = "held",
    direction: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[ss.QuarantineRow]:
    """Quarantine rows, newest first, narrowed by every filter given."""
    return await ctx.meta.read(
        ss.list_quarantine(
            tenant_id=tenant_id,
            account_id=account_id,
            status=status,
            direction=direction,
            before_id=before_id,
            limit=limit,
        )
    )


async def quarantined_bytes(ctx: ActionContext, row: ss.QuarantineRow) -> bytes:
    return await ctx.blobs.get(row.tenant_id, row.blob_id)


async def do_release_quarantine(
    ctx: ActionContext,
    qid: int,
    *,
    actor_id: int | None,
    models: SpamModels | None = None,
) -> ss.QuarantineRow:
    """Deliver a held message (inbound: into the recipient's Inbox; outbound: into the queue)
    and learn it as ham; an inbound release also counts its sender (From, else the envelope
    sender) as a correspondent (:func:`do_note_received_from`), so its next mail is no first
    contact. Raises ``NotFound`` or ``Conflict`` (already decided)."""
    row = await ctx.meta.read(ss.get_quarantine(qid))
    if row is None:
        raise NotFound(what=f"quarantine {qid}")
    if row.status != "held":
        raise Conflict(detail=f"quarantine {qid} is {row.status}")
    raw = await quarantined_bytes(ctx, row)
    # Mark first: a concurrent second release then fails with Conflict instead of delivering
    # twice; a failed delivery puts the row back to held. The blob is protected by GC's grace
    # period until the delivery below creates the message (or queue) row referencing it.
    decided = await ctx.meta.write(
        ss.decide_quarantine(qid, "released", actor_id, int(time.time()))
    )
    try:
        if row.direction == "inbound":
            if row.account_id is None:
                raise ValidationError(what="quarantine recipient")
            await do_deliver(ctx, raw, [Target(row.account_id, role="inbox")])
        else:
            await do_enqueue_message(
                ctx,
                tenant_id=row.tenant_id,
                raw=drop_header(raw, b"x-rongmail-spam"),
                mail_from=row.mail_from,
                recipients=[EnvelopeRecipient(r) for r in row.rcpts],
                smtputf8=any(not r.isascii() for r in (row.mail_from, *row.rcpts)),
                body_8bit=not raw.isascii(),
                source="submission",
                account_id=row.account_id,
            )
    except BaseException:
        await ctx.meta.write(ss.reopen_quarantine(qid))
        raise
    if row.direction == "inbound":
        # a person vouched for it: its sender is now known, as after a clean delivery
        address = parseaddr(row.from_header)[1] or row.mail_from
        try:
            await do_note_received_from(ctx, row.tenant_id, address)
        except Exception:  # noqa: BLE001 - the release itself succeeded
            log.exception("counting the sender of released quarantine %d failed", qid)
    if models is not None and row.direction == "inbound":
        try:
            await models.learn(row.tenant_id, raw, is_spam=False)
        except Exception:  # noqa: BLE001 - the release itself succeeded
            log.exception("learning a released message failed")
    return decided


async def do_delete_quarantine(
    ctx: ActionContext,
    qid: int,
    *,
    actor_id: int | None,
    models: SpamModels | None = None,
) -> ss.QuarantineRow:
    """Drop a held message (its blob becomes collectable) and learn an inbound one as spam."""
    row = await ctx.meta.read(ss.get_quarantine(qid))
    if row is None:
        raise NotFound(what=f"quarantine {qid}")
    raw = await quarantined_bytes(ctx, row) if row.direction == "inbound" else b""
    decided = await ctx.meta.write(ss.decide_quarantine(qid, "deleted", actor_id, int(time.time())))
    if models is not None and raw:
        try:
            await models.learn(row.tenant_id, raw, is_spam=True)
        except Exception:  # noqa: BLE001 - the deletion itself succeeded
            log.exception("learning a deleted quarantined message failed")
    return decided


async def do_purge_quarantine(ctx: ActionContext, *, now: int | None = None) -> int:
    """Expire every held row past its ``expires_at`` (marked ``deleted``: its blob becomes
    collectable); returns how many. Batches of ``store.sql.spam.EXPIRE_BATCH`` rows, each one
    relaxed transaction (an expiry a crash undoes is redone next time), until one comes back
    short."""
    now = now or int(time.time())
    return await in_batches(ctx, lambda n: ss.purge_expired(now, n), ss.EXPIRE_BATCH)


async def do_purge_decided_quarantine(ctx: ActionContext, *, before: int) -> int:
    """Delete quarantine rows released or deleted (by a person or by expiry) before
    ``before``: they are history only, and blob GC already ignores them (only ``held`` rows
    keep a blob, ``store.sql.spam.purge_decided``). Held rows are never touched. Returns how
    many rows went; batches of ``store.sql.spam.PURGE_BATCH``, each one relaxed transaction,
    until one comes back short."""
    return await in_batches(ctx, lambda n: ss.purge_decided(before, n), ss.PURGE_BATCH)


# -- learning ---------------------------------------------------------------------------------


async def do_learn_messages(
    ctx: ActionContext,
    models: SpamModels,
    account_id: int,
    tenant_id: int,
    items: Sequence[tuple[int, str, bytes]],
) -> int:
    """Learn ``(message_id, "spam"|"ham", raw)`` items, skipping messages whose last learned
    label is the same; records the labels. Returns how many were learned."""
    if not items:
        return 0
    known = await ctx.meta.read(ss.learned_labels(account_id, [i[0] for i in items]))
    done: list[tuple[int, str]] = []
    for message_id, label, raw in items:
        if known.get(message_id) == label or label not in ("spam", "ham"):
            continue
        await models.learn(tenant_id, raw, is_spam=label == "spam")
        done.append((message_id, label))
    if done:
        await ctx.meta.write(ss.record_learned(account_id, done, int(time.time())))
    return len(done)


async def do_purge_orphan_learned(ctx: ActionContext) -> int:
    """Delete the ``spam_learned`` records of messages that no longer exist (expunged or
    destroyed; the table has no foreign key, ``store.sql.spam.purge_orphan_learned``). A
    record is only read to skip re-learning a decision about its message, and a gone message
    can never be decided again, so nothing is re-learned or mis-learned; records of existing
    messages are never touched. Returns how many went.

    Batches of ``store.sql.spam.LEARNED_PURGE_BATCH`` rows, each one relaxed transaction (a
    batch a crash undoes is redone next time), until a batch comes back short."""
    return await in_batches(ctx, ss.purge_orphan_learned, ss.LEARNED_PURGE_BATCH)


# -- notifications ----------------------------------------------------------------------------


def _notice(to: str, subject: str, body: str) -> bytes:
    domain = to.partition("@")[2] or "localhost"
    msg = EmailMessage()
    msg["From"] = f"RongMail <postmaster@{domain}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


async def do_send_quarantine_digest(
    ctx: ActionContext,
    account_id: int,
    rows: Sequence[ss.QuarantineRow],
    *,
    base_url: str = "",
) -> bool:
    """Deliver one digest mail listing ``rows`` to the account's Inbox and mark them digested.
    Returns False (and marks nothing) when the account is gone or disabled."""
    acct = await ctx.meta.read(d.get_account(account_id))
    if acct is None or acct.disabled or not rows:
        return False
    loc = acct.locale
    lines = [t("spam.digest.intro", loc, count=len(rows)), ""]
    for r in rows:
        tags = ", ".join(str(x.get("name", "")) for x in r.tags[:5])
        lines.append(
            t(
                "spam.digest.item",
                loc,
                id=r.id,
                sender=r.from_header or r.mail_from,
                subject=r.subject,
                score=f"{r.score:.1f}",
                tags=tags,
            )
        )
    lines += ["", t("spam.digest.howto", loc, url=f"{base_url}/api/quarantine")]
    raw = _notice(acct.address, t("spam.digest.subject", loc, count=len(rows)), "\n".join(lines))
    await do_deliver(ctx, raw, [Target(account_id, role="inbox")])
    await ctx.meta.write(ss.mark_digested([r.id for r in rows], int(time.time())))
    return True


async def do_alert_outbound_abuse(
    ctx: ActionContext,
    tenant_id: int,
    sender: str,
    *,
    reason: str,
    detail: str = "",
) -> int:
    """Tell the tenant's admins that ``sender``'s outbound mail was held; returns how many
    admins were notified (failures are logged, never raised into the SMTP path)."""
    sent = 0
    admins = [
        a
        for a in await ctx.meta.read(d.list_accounts(tenant_id=tenant_id))
        if a.role in ADMIN_ROLES and not a.disabled
    ]
    for admin in admins:
        loc = admin.locale
        raw = _notice(
            admin.address,
            t("spam.outbound.alert.subject", loc, sender=sender),
            t(
                "spam.outbound.alert.body",
                loc,
                sender=sender,
                reason=t(f"spam.outbound.reason.{reason}", loc),
                detail=detail,
            ),
        )
        try:
            await do_deliver(ctx, raw, [Target(admin.id, role="inbox")])
            sent += 1
        except Exception:  # noqa: BLE001 - an alert must never break the submission path
            log.exception("outbound abuse alert to %s failed", admin.address)
    log.warning(
        "outbound mail of %s held (%s) %s; %d admins alerted",
        sender,
        reason,
        json.dumps(detail, ensure_ascii=False),
        sent,
    )
    return sent
