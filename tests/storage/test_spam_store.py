"""Spam filtering state on every backend (migrations 0005 and 0105, issue 9): tenant settings,
the content model, the quarantine life cycle, the learning log and the correspondents table
behind first-contact detection. Runs on SQLite and on the real PostgreSQL (``stack``)."""

from __future__ import annotations

import dataclasses

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.actions.spam import (
    HeldMessage,
    SpamModels,
    do_delete_quarantine,
    do_note_received_from,
    do_purge_quarantine,
    do_quarantine_message,
    do_release_quarantine,
    do_set_spam_settings,
    list_quarantine,
    quarantined_bytes,
)
from rongmail.errors import Conflict, NotFound, TooLarge, ValidationError
from rongmail.services.spam import Thresholds
from rongmail.services.spam.contacts import contact_keys, is_first_contact
from rongmail.store.sql import blobs as sb
from rongmail.store.sql import spam as ss

SPAM = (
    b"From: Promo <promo@spam.example>\r\nTo: user@demo.test\r\nSubject: cheap invoices\r\n"
    b"Message-ID: <s1@spam.example>\r\n\r\n\xe4\xbb\xa3\xe5\xbc\x80\xe5\x8f\x91\xe7\xa5\xa8"
    b" cheap invoices, call now\r\n"
)
HAM = (
    b"From: Colleague <c@partner.example>\r\nTo: user@demo.test\r\nSubject: meeting\r\n"
    b"Message-ID: <h1@partner.example>\r\n\r\nThe meeting moves to Friday 10:00.\r\n"
)


async def _tenant(stack):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    user = await acc.do_create_account(stack.ctx, "user@demo.test", "Secret-pass-123")
    admin = await acc.do_create_account(
        stack.ctx, "admin@demo.test", "Secret-pass-123", role="tenant_admin"
    )
    return t, user, admin


def _held(tenant_id: int, direction: str, accounts: tuple[int, ...]) -> HeldMessage:
    return HeldMessage(
        tenant_id=tenant_id,
        direction=direction,
        account_ids=accounts,
        mail_from="promo@spam.example",
        rcpts=("user@demo.test",),
        from_header="Promo <promo@spam.example>",
        subject="cheap invoices",
        score=12.5,
        tags=({"name": "ZH_INVOICE", "score": 3.0, "reason": "\u4ee3\u5f00\u53d1\u7968"},),
    )


async def test_settings_round_trip(stack) -> None:  # type: ignore[no-untyped-def]
    t, _, _ = await _tenant(stack)
    assert await stack.ctx.meta.read(ss.get_settings(t.id)) is None
    await do_set_spam_settings(
        stack.ctx, t.id, thresholds=Thresholds(4, 8, 20), weights={"RBL_LISTED": 6.5}, digest=False
    )
    row = await stack.ctx.meta.read(ss.get_settings(t.id))
    assert (row.junk, row.quarantine, row.reject) == (4, 8, 20)
    assert row.weights == {"RBL_LISTED": 6.5} and row.enabled and not row.digest
    await do_set_spam_settings(stack.ctx, t.id, thresholds=Thresholds(), enabled=False)
    row = await stack.ctx.meta.read(ss.get_settings(t.id))
    assert not row.enabled and row.weights == {} and row.junk == 5
    with pytest.raises(ValidationError):
        await do_set_spam_settings(
            stack.ctx, t.id, thresholds=Thresholds(), weights={"NO_SUCH_TAG": 1.0}
        )


async def test_model_persists_and_is_bounded(stack) -> None:  # type: ignore[no-untyped-def]
    t, _, _ = await _tenant(stack)
    models = SpamModels(stack.ctx, bits=16)
    for _ in range(3):
        await models.learn(t.id, SPAM, is_spam=True)
    await models.learn(t.id, HAM, is_spam=False)
    assert await models.flush() == 1
    data = await stack.ctx.meta.read(ss.get_model(t.id))
    assert data is not None and len(data) > 0
    again = await SpamModels(stack.ctx, bits=16).get(t.id)
    assert (again.n_spam, again.n_ham) == (3, 1)
    original = await models.get(t.id)
    feats = again.features(__import__("rongmail.mime.parse", fromlist=["x"]).parse_message(SPAM))
    assert again.score(feats) == pytest.approx(original.score(feats))
    with pytest.raises(TooLarge):
        await stack.ctx.meta.write(ss.put_model(t.id, b"x" * (ss.MAX_MODEL_BYTES + 1), 0, 0, 1))
    assert await stack.ctx.meta.read(ss.get_model(t.id)) == data  # unchanged


async def test_quarantine_life_cycle(stack) -> None:  # type: ignore[no-untyped-def]
    t, user, admin = await _tenant(stack)
    [qid] = await do_quarantine_message(stack.ctx, SPAM, _held(t.id, "inbound", (user.id,)))
    [qid2] = await do_quarantine_message(stack.ctx, HAM, _held(t.id, "inbound", (user.id,)))
    [out_id] = await do_quarantine_message(stack.ctx, SPAM, _held(t.id, "outbound", (user.id,)))
    rows = await list_quarantine(stack.ctx, tenant_id=t.id)
    assert [r.id for r in rows] == [out_id, qid2, qid]  # newest first
    assert [
        r.id
        for r in await list_quarantine(
            stack.ctx, tenant_id=t.id, direction="inbound", before_id=qid2
        )
    ] == [qid]
    row = rows[-1]
    assert row.status == "held" and row.score == 12.5 and row.rcpts == ("user@demo.test",)
    assert row.tags[0]["reason"] == "\u4ee3\u5f00\u53d1\u7968"
    assert await quarantined_bytes(stack.ctx, row) == SPAM
    # held rows keep their blob alive for GC
    assert row.blob_id in await stack.ctx.meta.read(sb.known(t.id, [row.blob_id]))

    # digests: inbound held rows only, once
    pending = await stack.ctx.meta.read(ss.undigested(user.id))
    assert {r.id for r in pending} == {qid, qid2}
    await stack.ctx.meta.write(ss.mark_digested([qid], 1_800_000_000))
    assert [r.id for r in await stack.ctx.meta.read(ss.undigested(user.id))] == [qid2]

    released = await do_release_quarantine(stack.ctx, qid2, actor_id=user.id)
    assert released.status == "released" and released.decided_by == user.id
    inbox = await stack.reader.mailbox_by_role(user.id, "inbox")
    assert len(await stack.reader.mailbox_entries(inbox.id)) == 1
    with pytest.raises(Conflict):
        await do_release_quarantine(stack.ctx, qid2, actor_id=user.id)
    deleted = await do_delete_quarantine(stack.ctx, qid, actor_id=admin.id)
    assert deleted.status == "deleted"
    with pytest.raises(NotFound):
        await do_release_quarantine(stack.ctx, 999_999, actor_id=None)

    # expiry: the outbound row is still held; purging in the future deletes it
    assert await do_purge_quarantine(stack.ctx, now=1) == 0
    assert await do_purge_quarantine(stack.ctx, now=4_000_000_000) == 1
    assert await list_quarantine(stack.ctx, tenant_id=t.id) == []
    states = {r.id: r.status for r in await list_quarantine(stack.ctx, tenant_id=t.id, status=None)}
    assert states == {qid: "deleted", qid2: "released", out_id: "deleted"}


async def test_learning_log_is_idempotent(stack) -> None:  # type: ignore[no-untyped-def]
    _, user, _ = await _tenant(stack)
    assert await stack.ctx.meta.read(ss.learned_labels(user.id, [])) == {}
    await stack.ctx.meta.write(ss.record_learned(user.id, [(1, "spam"), (2, "ham")], 10))
    await stack.ctx.meta.write(ss.record_learned(user.id, [(1, "ham")], 11))
    got = await stack.ctx.meta.read(ss.learned_labels(user.id, [1, 2, 3]))
    assert got == {1: "ham", 2: "ham"}


async def test_correspondents_and_first_contact(stack) -> None:  # type: ignore[no-untyped-def]
    t, user, _ = await _tenant(stack)

    async def first(address: str) -> bool:
        counts = await stack.ctx.meta.read(ss.contact_counts(t.id, contact_keys(address)))
        return is_first_contact(address, counts)

    assert await first("finance@partner.example")
    # a submission (account_id given) counts its recipients in the enqueue transaction
    await do_enqueue_message(
        stack.ctx,
        tenant_id=t.id,
        raw=HAM,
        mail_from="user@demo.test",
        source="submission",
        account_id=user.id,
        recipients=[
            EnvelopeRecipient("Finance@Partner.example"),
            EnvelopeRecipient("friend@qq.com"),
        ],
    )
    # relayed/inbound queue entries (no account) count nothing
    await do_enqueue_message(
        stack.ctx,
        tenant_id=t.id,
        raw=HAM,
        mail_from="x@relay.example",
        recipients=[EnvelopeRecipient("boss@stranger.example")],
    )
    counts = await stack.ctx.meta.read(
        ss.contact_counts(
            t.id,
            [
                "finance@partner.example",
                "@partner.example",
                "friend@qq.com",
                "@qq.com",
                "boss@stranger.example",
            ],
        )
    )
    assert counts == {
        "finance@partner.example": (1, 0),
        "@partner.example": (1, 0),
        "friend@qq.com": (1, 0),
    }
    assert not await first("finance@partner.example")
    assert not await first("new.colleague@partner.example")  # known partner domain
    assert not await first("friend@qq.com")
    assert await first("someone.else@qq.com")  # free-mail: the domain says nothing
    assert await first("boss@stranger.example")

    # clean inbound mail counts the sender (address only)
    await do_note_received_from(stack.ctx, t.id, "Boss@Stranger.example", now=5)
    await do_note_received_from(stack.ctx, t.id, "boss@stranger.example", now=9)
    assert not await first("boss@stranger.example")
    assert await first("other@stranger.example")
    got = await stack.ctx.meta.read(ss.contact_counts(t.id, ["boss@stranger.example"]))
    assert got == {"boss@stranger.example": (0, 2)}
    # tenants do not see each other's correspondents
    other = await acc.do_create_tenant(stack.ctx, "other")
    assert await stack.ctx.meta.read(ss.contact_counts(other.id, ["@partner.example"])) == {}


async def test_release_counts_the_sender_as_known(stack) -> None:  # type: ignore[no-untyped-def]
    """A user's or admin's release vouches for the sender: like a clean delivery, it counts the
    From address in ``spam_contact`` (inbound only; deleting or an outbound release does not)."""
    t, user, admin = await _tenant(stack)

    async def first(address: str) -> bool:
        counts = await stack.ctx.meta.read(ss.contact_counts(t.id, contact_keys(address)))
        return is_first_contact(address, counts)

    [deleted] = await do_quarantine_message(stack.ctx, SPAM, _held(t.id, "inbound", (user.id,)))
    await do_delete_quarantine(stack.ctx, deleted, actor_id=admin.id)
    [out_id] = await do_quarantine_message(stack.ctx, SPAM, _held(t.id, "outbound", (user.id,)))
    await do_release_quarantine(stack.ctx, out_id, actor_id=admin.id)
    assert await first("promo@spam.example")
    [by_user] = await do_quarantine_message(stack.ctx, SPAM, _held(t.id, "inbound", (user.id,)))
    await do_release_quarantine(stack.ctx, by_user, actor_id=user.id)
    assert not await first("promo@spam.example")
    counts = await stack.ctx.meta.read(ss.contact_counts(t.id, ["promo@spam.example"]))
    assert counts == {"promo@spam.example": (0, 1)}
    # no From address: the envelope sender counts; an admin release counts the same way
    held = dataclasses.replace(
        _held(t.id, "inbound", (admin.id,)), from_header="", mail_from="bounce@list.example"
    )
    [by_admin] = await do_quarantine_message(stack.ctx, HAM, held)
    assert await first("bounce@list.example")
    await do_release_quarantine(stack.ctx, by_admin, actor_id=admin.id)
    assert not await first("bounce@list.example")
