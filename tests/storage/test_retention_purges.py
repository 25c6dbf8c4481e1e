"""Housekeeping purges of tables that would otherwise grow without bound, on every backend
(``stack``): the audit log (its hash chain still verifies after a prune cut into batches),
expired HTTP tokens with their ``session_info`` and stale wipe requests, finished
EmailSubmission objects (logged as destroyed for ``/changes``), and the spam quarantine
(expiry in batches, then decided rows deleted without changing what blob GC keeps), the spam
learner's records of messages that are gone (those of existing messages stay, so nothing is
learned twice), JMAP uploads past their day (emails made from them keep their blob) and the
admin console's audit rows past the audit retention.

Each purge deletes in bounded batches, one relaxed write per batch, until a batch comes back
short; the batch sizes are shrunk here so a few rows span several batches."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import admin as aadm
from rongmail.actions import auth as aa
from rongmail.actions import jmap as jact
from rongmail.actions import messages as act
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.actions.spam import (
    HeldMessage,
    SpamModels,
    do_learn_messages,
    do_purge_decided_quarantine,
    do_purge_orphan_learned,
    do_purge_quarantine,
    do_quarantine_message,
    list_quarantine,
)
from rongmail.core.changes import Change
from rongmail.core.flags import DELETED
from rongmail.errors import ValidationError
from rongmail.services.auth.audit import verify_chain
from rongmail.store.sql import admin as sadm
from rongmail.store.sql import auth as sa
from rongmail.store.sql import blobs as sb
from rongmail.store.sql import jmap as jm
from rongmail.store.sql import spam as ss
from rongmail.store.sql.q import Op, Q

KEY = secrets.token_bytes(32)
DAY = 86400


def _sql(sql: str, params: tuple[object, ...] = ()) -> Op[list[Any]]:
    return (yield Q(sql, params))


async def _rows(stack, sql: str, params: tuple[object, ...] = ()) -> list[Any]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in await stack.ctx.meta.read(_sql(sql, params))]


async def _user(stack, name: str = "user"):  # type: ignore[no-untyped-def]
    if not await _rows(stack, "SELECT id FROM domain WHERE name = 'demo.test'"):
        t = await acc.do_create_tenant(stack.ctx, "demo")
        await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    return await acc.do_create_account(stack.ctx, f"{name}@demo.test", "Secret-pass-123")


def _record_writes(stack, monkeypatch, after=None) -> list[bool]:  # type: ignore[no-untyped-def]
    """Wrap ``meta.write`` to note each transaction's ``durable`` flag (and run ``after``)."""
    meta = stack.ctx.meta
    real = meta.write
    seen: list[bool] = []

    async def write(op, *, durable: bool = True):  # type: ignore[no-untyped-def]
        out = await real(op, durable=durable)
        seen.append(durable)
        if after is not None:
            await after()
        return out

    monkeypatch.setattr(meta, "write", write)
    return seen


# -- audit log ---------------------------------------------------------------------------------


async def test_audit_prune_in_batches_keeps_the_chain_verifiable(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    old, young = now - 400 * DAY, now - 10 * DAY
    for i in range(7):
        await stack.ctx.meta.write(sa.append_audit(KEY, category="login", action="old",
                                                   detail={"i": i}, at=old + i))
    for i in range(3):
        await stack.ctx.meta.write(sa.append_audit(KEY, category="login", action="young",
                                                   detail={"i": i}, at=young + i))
    monkeypatch.setattr(sa, "AUDIT_PRUNE_BATCH", 3)
    verified: list[bool] = []

    async def check() -> None:
        report = await verify_chain(stack.ctx.meta, KEY)
        verified.append(report.ok)

    writes = _record_writes(stack, monkeypatch, check)
    assert await aa.do_prune_audit(stack.ctx, KEY, before=now - 180 * DAY) == 7
    # 3 + 3 + 1: three relaxed transactions, and the chain verified after each of them
    assert writes == [False, False, False]
    assert verified == [True, True, True]
    report = await verify_chain(stack.ctx.meta, KEY)
    assert report.ok, report.problems
    entries = await stack.ctx.meta.read(sa.audit_page(0))
    assert [e.action for e in entries] == ["young"] * 3 + ["audit.pruned"] * 3
    assert (report.first_seq, report.last_seq) == (8, 13)
    details = [json.loads(e.detail) for e in entries if e.action == "audit.pruned"]
    assert [(d["base_seq"], d["removed"]) for d in details] == [(4, 3), (7, 3), (8, 1)]
    head = await stack.ctx.meta.read(sa.audit_head())
    assert (head.base_seq, head.base_prev) == (8, entries[0].prev)
    # nothing old is left: a second prune removes nothing and chains nothing
    assert await aa.do_prune_audit(stack.ctx, KEY, before=now - 180 * DAY) == 0
    assert (await stack.ctx.meta.read(sa.audit_head())).seq == 13


async def test_audit_prune_refuses_a_young_cut_off(stack) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    await stack.ctx.meta.write(sa.append_audit(KEY, category="login", action="x",
                                               at=now - 400 * DAY))
    with pytest.raises(ValidationError):
        await aa.do_prune_audit(stack.ctx, KEY, before=now - 30 * DAY)
    with pytest.raises(ValidationError):
        await aa.do_prune_audit(stack.ctx, KEY)  # neither before nor retention_days
    with pytest.raises(ValidationError):
        await aa.do_prune_audit(stack.ctx, KEY, before=now - 400 * DAY, retention_days=200)
    # the only entry is the newest: it anchors the chain and stays
    assert await aa.do_prune_audit(stack.ctx, KEY, retention_days=180) == 0
    assert (await verify_chain(stack.ctx.meta, KEY)).ok


# -- HTTP tokens, session_info, session_wipe -------------------------------------------------


async def test_expired_sessions_and_their_info_are_purged(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = await _user(stack)
    now = int(time.time())
    expired, live = [], []
    for i in range(5):
        tok, _ = await jact.do_create_token(stack.ctx, user.id, kind="session", ttl=-100 - i)
        expired.append(jact.token_hash(tok))
    bearer, _ = await jact.do_create_token(stack.ctx, user.id, kind="bearer", ttl=-1)
    expired.append(jact.token_hash(bearer))
    for _ in range(2):
        tok, _ = await jact.do_create_token(stack.ctx, user.id, kind="session")
        live.append(jact.token_hash(tok))
    signed_out, _ = await jact.do_create_token(stack.ctx, user.id, kind="session")
    for h in [*expired[:5], *live, jact.token_hash(signed_out)]:
        await aa.do_record_session(stack.ctx, h, user, ip="192.0.2.1", user_agent="ua",
                                   country="", method="password")
    await jact.do_revoke_token(stack.ctx, signed_out)  # logout leaves its session_info behind
    for h, at in (("w-old-1", now - 15 * DAY), ("w-old-2", now - 20 * DAY),
                  ("w-new", now - DAY)):
        await stack.ctx.meta.write(_sql("INSERT INTO session_wipe (token_hash, account_id, at)"
                                        " VALUES (?, ?, ?)", (h, user.id, at)))
    monkeypatch.setattr(jm, "PURGE_BATCH", 2)
    monkeypatch.setattr(sa, "SESSION_PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    # 6 tokens + 6 session_info (5 expired, 1 signed out) + 2 wipes
    assert await jact.do_purge_expired_sessions(stack.ctx, now=now) == 14
    assert writes and not any(writes)
    assert len(writes) == (3 + 1) + (3 + 1) + (1 + 1)  # a batch comes back short each time
    tokens = {r[0] for r in await _rows(stack, "SELECT token_hash FROM http_token")}
    infos = {r[0] for r in await _rows(stack, "SELECT token_hash FROM session_info")}
    wipes = {r[0] for r in await _rows(stack, "SELECT token_hash FROM session_wipe")}
    assert tokens == set(live) and infos == set(live) and wipes == {"w-new"}
    # the live sessions are intact
    sessions = await stack.ctx.meta.read(sa.sessions(user.id, now))
    assert {s.token_hash for s in sessions} == set(live)
    assert {s.ip for s in sessions} == {"192.0.2.1"}
    assert await jact.do_purge_expired_sessions(stack.ctx, now=now) == 0


# -- EmailSubmission ---------------------------------------------------------------------------


async def _submission(stack, account_id: int, *, send_at: int, status: str,  # type: ignore[no-untyped-def]
                      queue_id: int | None = None) -> int:
    row = await jact.do_create_submission(
        stack.ctx, account_id, identity_id=1, email_id=1, thread_id=1,
        envelope={"mailFrom": {"email": "a@demo.test"}, "rcptTo": []}, send_at=send_at,
        undo_status=status, blob_id="b")
    if queue_id is not None:
        await jact.do_update_submission(stack.ctx, account_id, row.id, queue_id=queue_id)
    return row.id


async def test_finished_submissions_are_purged_and_logged_destroyed(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a, b = await _user(stack, "a"), await _user(stack, "b")
    now = int(time.time())
    old, cutoff = now - 40 * DAY, now - 30 * DAY
    gone = [await _submission(stack, a.id, send_at=old + i, status="final") for i in range(4)]
    gone.append(await _submission(stack, a.id, send_at=old, status="canceled"))
    gone_b = [await _submission(stack, b.id, send_at=old, status="final")]
    qid = await do_enqueue_message(stack.ctx, tenant_id=a.tenant_id, raw=b"Subject: x\r\n\r\nx\r\n",
                                   mail_from="a@demo.test",
                                   recipients=[EnvelopeRecipient("r@remote.example")],
                                   source="jmap", account_id=a.id)
    kept = [
        await _submission(stack, a.id, send_at=old, status="pending"),  # never sent
        await _submission(stack, a.id, send_at=now - DAY, status="final"),  # young
        await _submission(stack, a.id, send_at=old, status="final", queue_id=qid),  # in queue
    ]
    state_a = (await stack.reader.account(a.id)).modseq
    state_b = (await stack.reader.account(b.id)).modseq
    published: list[Change] = []
    monkeypatch.setattr(stack.ctx.bus, "publish", published.extend)
    monkeypatch.setattr(jm, "PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    assert await jact.do_purge_submissions(stack.ctx, before=cutoff) == 6
    assert writes == [False] * 4  # 2 + 2 + 2 + 0
    assert [r.id for r in await stack.reader.submissions(a.id)] == kept
    assert await stack.reader.submissions(b.id) == []
    # /changes sees each as destroyed, exactly as an EmailSubmission/set destroy logs it
    for account, state, ids in ((a, state_a, gone), (b, state_b, gone_b)):
        changes = await stack.reader.changes_since(account.id, state)
        assert sorted(c.object_id for c in changes) == sorted(ids)
        assert {(c.type, c.action) for c in changes} == {(jm.EMAIL_SUBMISSION, "destroyed")}
        assert (await stack.reader.account(account.id)).modseq == max(c.modseq for c in changes)
    assert sorted(c.object_id for c in published) == sorted(gone + gone_b)
    assert await jact.do_purge_submissions(stack.ctx, before=cutoff) == 0


# -- spam quarantine ---------------------------------------------------------------------------


def _held(tenant_id: int, accounts: tuple[int, ...]) -> HeldMessage:
    return HeldMessage(tenant_id=tenant_id, direction="inbound", account_ids=accounts,
                       mail_from="promo@spam.example", rcpts=("user@demo.test",),
                       from_header="Promo <promo@spam.example>", subject="cheap", score=12.0,
                       tags=())


async def test_quarantine_expiry_marks_every_expired_row(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = await _user(stack)
    expired = []
    for i in range(5):
        expired += await do_quarantine_message(stack.ctx, b"Subject: %d\r\n\r\nx\r\n" % i,
                                               _held(user.tenant_id, (user.id,)), ttl=-10)
    [fresh] = await do_quarantine_message(stack.ctx, b"Subject: f\r\n\r\nx\r\n",
                                          _held(user.tenant_id, (user.id,)))
    monkeypatch.setattr(ss, "EXPIRE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)
    assert await do_purge_quarantine(stack.ctx) == 5
    assert writes == [False] * 3  # 2 + 2 + 1
    states = {r.id: r.status for r in await list_quarantine(stack.ctx, status=None)}
    assert states == {**dict.fromkeys(expired, "deleted"), fresh: "held"}
    assert await do_purge_quarantine(stack.ctx) == 0


async def test_decided_quarantine_rows_are_deleted_and_gc_keeps_what_is_held(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = await _user(stack)
    t = user.tenant_id
    now = int(time.time())
    old, cutoff = now - 40 * DAY, now - 30 * DAY
    shared = b"Subject: same\r\n\r\nsame bytes\r\n"
    # the same content held twice: one copy decided long ago, one still held
    [shared_old, shared_held] = await do_quarantine_message(stack.ctx, shared,
                                                           _held(t, (user.id, user.id)))
    ids = {}
    for i, (status, at) in enumerate((("deleted", old), ("deleted", old), ("released", old),
                                      ("released", old), ("deleted", now - DAY),
                                      ("released", now - DAY))):
        [qid] = await do_quarantine_message(stack.ctx, b"Subject: %d\r\n\r\nx\r\n" % i,
                                            _held(t, (user.id,)))
        await stack.ctx.meta.write(ss.decide_quarantine(qid, status, None, at))
        ids[qid] = (status, at)
    await stack.ctx.meta.write(ss.decide_quarantine(shared_old, "deleted", None, old))
    [ancient_held] = await do_quarantine_message(stack.ctx, b"Subject: a\r\n\r\nx\r\n",
                                                 _held(t, (user.id,)), ttl=400 * DAY)
    await stack.ctx.meta.write(_sql("UPDATE spam_quarantine SET created_at = ? WHERE id = ?",
                                    (old - 100 * DAY, ancient_held)))
    rows = await list_quarantine(stack.ctx, status=None, limit=1000)
    blobs = [r.blob_id for r in rows]
    gc_before = set(await stack.ctx.meta.read(sb.unreferenced()))
    known_before = await stack.ctx.meta.read(sb.known(t, blobs))
    monkeypatch.setattr(ss, "PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    assert await do_purge_decided_quarantine(stack.ctx, before=cutoff) == 5
    assert writes == [False] * 3  # 2 + 2 + 1
    left = {r.id: r.status for r in await list_quarantine(stack.ctx, status=None, limit=1000)}
    young = {q for q, (_, at) in ids.items() if at > cutoff}
    assert left == {**{q: ids[q][0] for q in young}, shared_held: "held",
                    ancient_held: "held"}
    # blob GC's view is unchanged: the shared blob is still kept by its held row
    assert set(await stack.ctx.meta.read(sb.unreferenced())) == gc_before
    assert await stack.ctx.meta.read(sb.known(t, blobs)) == known_before
    shared_blob = next(r.blob_id for r in rows if r.id == shared_held)
    assert shared_blob in known_before
    assert await do_purge_decided_quarantine(stack.ctx, before=cutoff) == 0


# -- spam learning records -----------------------------------------------------------------------


def _mail(i: int) -> bytes:
    return (b"From: Promo <promo@spam.example>\r\nTo: user@demo.test\r\nSubject: offer %d\r\n"
            b"Message-ID: <m%d@spam.example>\r\n\r\ncheap invoices, call now %d\r\n" % (i, i, i))


async def _learned(stack) -> dict[tuple[int, int], str]:  # type: ignore[no-untyped-def]
    return {(int(r[0]), int(r[1])): str(r[2]) for r in await _rows(
        stack, "SELECT account_id, message_id, label FROM spam_learned")}


async def test_learned_records_of_gone_messages_are_purged(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a, b = await _user(stack, "a"), await _user(stack, "b")
    t = a.tenant_id
    inbox_a = (await stack.reader.mailbox_by_role(a.id, "inbox")).id
    inbox_b = (await stack.reader.mailbox_by_role(b.id, "inbox")).id
    msgs = [await act.do_append_message(stack.ctx, a.id, [inbox_a], _mail(i)) for i in range(6)]
    [theirs] = [await act.do_append_message(stack.ctx, b.id, [inbox_b], _mail(9))]
    models = SpamModels(stack.ctx, bits=16)
    # the learner's write: every message decided once (a's as spam, b's as ham)
    assert await do_learn_messages(stack.ctx, models, a.id, t,
                                   [(m.message_id, "spam", _mail(i)) for i, m in
                                    enumerate(msgs)]) == 6
    assert await do_learn_messages(stack.ctx, models, b.id, t,
                                   [(theirs.message_id, "ham", _mail(9))]) == 1
    # a record under a's account for an id that is b's message (SQLite may hand out the id of a
    # deleted last message again): a's message is gone, so the record is too
    await stack.ctx.meta.write(ss.record_learned(a.id, [(theirs.message_id, "ham")], 1))
    # four of a's messages go: three destroyed (JMAP), one expunged (IMAP)
    gone = [m.message_id for m in msgs[:4]]
    await act.do_destroy_messages(stack.ctx, a.id, gone[:3])
    await act.do_set_flags(stack.ctx, a.id, [gone[3]], add=DELETED)
    await act.do_expunge(stack.ctx, a.id, inbox_a, uids=[msgs[3].uid])
    assert {m.id for m in await stack.reader.messages(a.id, gone)} == set()
    live = [m.message_id for m in msgs[4:]]
    before = await _learned(stack)
    assert len(before) == 8
    model = await models.get(t)
    counts = (model.n_spam, model.n_ham)
    monkeypatch.setattr(ss, "LEARNED_PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    assert await do_purge_orphan_learned(stack.ctx) == 5
    assert writes == [False] * 3  # 2 + 2 + 1
    kept = {(a.id, m): "spam" for m in live} | {(b.id, theirs.message_id): "ham"}
    assert await _learned(stack) == kept
    # the messages still there are not learned again with the label they already have...
    again = [(m, "spam", _mail(4 + i)) for i, m in enumerate(live)]
    assert await do_learn_messages(stack.ctx, models, a.id, t, again) == 0
    assert await do_learn_messages(stack.ctx, models, b.id, t,
                                   [(theirs.message_id, "ham", _mail(9))]) == 0
    assert ((await models.get(t)).n_spam, (await models.get(t)).n_ham) == counts
    # ...and a changed decision is still learned
    assert await do_learn_messages(stack.ctx, models, a.id, t,
                                   [(live[0], "ham", _mail(4))]) == 1
    assert (await _learned(stack))[(a.id, live[0])] == "ham"
    assert await do_purge_orphan_learned(stack.ctx) == 0


# -- JMAP uploads ----------------------------------------------------------------------------------


async def _upload(stack, account_id: int, data: bytes, at: int) -> str:  # type: ignore[no-untyped-def]
    blob = await jact.do_upload_blob(stack.ctx, account_id, data, "application/octet-stream",
                                     limit=1 << 20)
    await stack.ctx.meta.write(_sql("UPDATE jmap_upload SET created_at = ? WHERE account_id = ?"
                                    " AND blob_id = ?", (at, account_id, blob)))
    return blob


async def test_old_uploads_are_purged_and_imported_emails_keep_their_blob(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Uploads older than the cut-off go in batches; while an upload row lives it keeps its blob
    from the blob GC (before, GC deleted an upload's file after its one-hour grace), after it
    goes only an email made from it does."""
    a, b = await _user(stack, "a"), await _user(stack, "b")
    t = a.tenant_id
    now = int(time.time())
    old, cutoff = now - 3 * DAY, now - DAY
    stale = [await _upload(stack, a.id, b"attachment %d" % i, old + i) for i in range(4)]
    stale_b = await _upload(stack, b.id, b"theirs", old)
    fresh = await _upload(stack, a.id, b"young attachment", now - 2 * 3600)
    # an upload a client then imported with Email/import, and one it sent (EmailSubmission of
    # the imported email): both hold their blob through the message row, not the upload
    raw = _mail(1)
    imported = await _upload(stack, a.id, raw, old)
    inbox = (await stack.reader.mailbox_by_role(a.id, "inbox")).id
    email = await act.do_append_message(stack.ctx, a.id, [inbox], raw)
    assert email.blob_id == imported
    sub = await jact.do_create_submission(
        stack.ctx, a.id, identity_id=1, email_id=email.message_id, thread_id=email.thread_id,
        envelope={"mailFrom": {"email": "a@demo.test"}, "rcptTo": []}, send_at=now,
        undo_status="pending", blob_id=email.blob_id)
    everything = [*stale, stale_b, fresh, imported]
    gc_before = set(await stack.ctx.meta.read(sb.unreferenced()))
    known_before = await stack.ctx.meta.read(sb.known(t, everything))
    assert imported in known_before
    monkeypatch.setattr(jm, "PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    assert await jact.do_purge_uploads(stack.ctx, before=cutoff) == 6
    assert writes == [False] * 4  # 2 + 2 + 2 + 0
    left = {(int(r[0]), str(r[1])) for r in await _rows(
        stack, "SELECT account_id, blob_id FROM jmap_upload")}
    assert left == {(a.id, fresh)}
    for blob in stale:
        assert not await stack.reader.blob_visible(a.id, blob)
    assert not await stack.reader.blob_visible(b.id, stale_b)
    assert await stack.reader.blob_visible(a.id, fresh)
    # the imported email still reads, and its submission still names a readable blob
    assert await stack.reader.blob_visible(a.id, imported)
    assert await stack.reader.message_bytes(t, imported) == raw
    [row] = await stack.reader.submissions(a.id, [sub.id])
    assert await stack.reader.blob_visible(a.id, row.blob_id)
    # an upload row keeps its blob from GC while it lives (a client may still use the id);
    # once it is purged the blob is GC's unless an email references it
    assert set(await stack.ctx.meta.read(sb.unreferenced())) == gc_before
    assert fresh in known_before and all(blob in known_before for blob in stale)
    assert await stack.ctx.meta.read(sb.known(t, everything)) == {fresh, imported}
    assert await jact.do_purge_uploads(stack.ctx, before=cutoff) == 0
    with pytest.raises(ValidationError):  # RFC 8620 §6.1: kept at least an hour
        await jact.do_purge_uploads(stack.ctx, before=now - 60)


async def test_blob_gc_keeps_an_upload_while_its_row_lives(stack) -> None:  # type: ignore[no-untyped-def]
    """The blob GC's file pass (grace 0 here, an hour in the server) left an uploaded file
    alone only for its grace period: a compose window open longer than that lost its
    attachment. The upload row is now a reference; the file goes only after the row."""
    from rongmail.workers.gc import collect

    a = await _user(stack, "a")
    data = b"a big attachment %s" % secrets.token_hex(8).encode()
    blob = await _upload(stack, a.id, data, int(time.time()) - 2 * DAY)
    files = stack.ctx.blobs.files
    await collect(stack.ctx.meta, files, grace=0)
    assert await files.exists(a.tenant_id, blob)
    assert await files.get(a.tenant_id, blob) == data
    assert await jact.do_purge_uploads(stack.ctx, before=int(time.time()) - DAY) == 1
    assert await collect(stack.ctx.meta, files, grace=0) >= 1
    assert not await files.exists(a.tenant_id, blob)


# -- admin audit ---------------------------------------------------------------------------------


async def test_admin_audit_rows_past_retention_are_pruned(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = await _user(stack)
    t = user.tenant_id
    now = int(time.time())
    old, young = now - 400 * DAY, now - 10 * DAY

    async def row(at: int, tenant: int | None, action: str) -> None:
        await stack.ctx.meta.write(_sql(
            "INSERT INTO admin_audit (at, actor_id, tenant_id, action, target, detail, remote)"
            " VALUES (?, ?, ?, ?, '', '{}', '')", (at, user.id, tenant, action)))

    for i in range(4):
        await row(old + i, t, "old")
    await row(old, None, "old")  # a super admin's (no tenant)
    await row(young, t, "young")
    await row(young, None, "young")
    await aadm.do_record_audit(stack.ctx, aadm.Actor(user.id, t), t, "now", "x")
    # the hash-chained log is another table, left to do_prune_audit
    await stack.ctx.meta.write(sa.append_audit(KEY, category="admin", action="old", at=old))
    await stack.ctx.meta.write(sa.append_audit(KEY, category="admin", action="new"))
    monkeypatch.setattr(sadm, "AUDIT_PURGE_BATCH", 2)
    writes = _record_writes(stack, monkeypatch)

    assert await aadm.do_prune_admin_audit(stack.ctx, before=now - 180 * DAY) == 5
    assert writes == [False] * 3  # 2 + 2 + 1
    rows = await stack.ctx.meta.read(sadm.list_audit(None))
    assert [r.action for r in rows] == ["now", "young", "young"]
    assert [r.action for r in await stack.ctx.meta.read(sadm.list_audit(t))] == ["now", "young"]
    assert [e.action for e in await stack.ctx.meta.read(sa.audit_page(0))] == ["old", "new"]
    assert (await verify_chain(stack.ctx.meta, KEY)).ok
    assert await aadm.do_prune_admin_audit(stack.ctx, before=now - 180 * DAY) == 0
    with pytest.raises(ValidationError):  # never younger than the audit retention floor
        await aadm.do_prune_admin_audit(stack.ctx, before=now - 30 * DAY)


# -- the hourly pass -------------------------------------------------------------------------------


async def test_housekeeping_purges_learned_uploads_and_admin_audit(stack) -> None:  # type: ignore[no-untyped-def]
    from rongmail.workers.housekeeping import housekeeping_once

    user = await _user(stack)
    now = int(time.time())
    inbox = (await stack.reader.mailbox_by_role(user.id, "inbox")).id
    m = await act.do_append_message(stack.ctx, user.id, [inbox], _mail(1))
    await stack.ctx.meta.write(ss.record_learned(user.id, [(m.message_id, "spam"),
                                                           (m.message_id + 1000, "spam")], now))
    await _upload(stack, user.id, b"a day old", now - DAY - 60)
    await _upload(stack, user.id, b"an hour old", now - 3600)
    days = stack.ctx.settings.security.audit_retention_days
    for at in (now - (days + 1) * DAY, now - (days - 1) * DAY):
        await stack.ctx.meta.write(_sql(
            "INSERT INTO admin_audit (at, tenant_id, action) VALUES (?, ?, 'x')",
            (at, user.tenant_id)))

    done = await housekeeping_once(stack.ctx, now=now)
    assert (done["spam_learned"], done["uploads"], done["admin_audit"]) == (1, 1, 1)
    assert await _learned(stack) == {(user.id, m.message_id): "spam"}
    assert len(await _rows(stack, "SELECT 1 FROM jmap_upload")) == 1
    assert len(await _rows(stack, "SELECT 1 FROM admin_audit")) == 1
