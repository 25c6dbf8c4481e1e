"""The queue end to end on each storage backend: enqueue, schedule, deliver locally and to a
scripted SMTP server, retry, expire, bounce, purge, and the queue actions behind the CLI."""

from __future__ import annotations

import asyncio

import pytest
from smtpsink import SmtpSink

from rongmail.actions import accounts as acc
from rongmail.actions import queue as qa
from rongmail.config.queue import QueueSettings
from rongmail.errors import NotFound, ValidationError
from rongmail.queue.agents.local import LocalAgent
from rongmail.queue.agents.smtp_remote import RemoteSmtpAgent
from rongmail.queue.scheduler import Scheduler
from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.store.sql import directory as d
from rongmail.store.sql import queue as qs

MAIL = (
    b"From: Zhang San <zhangsan@demo.test>\r\nTo: many@remote.test\r\n"
    b"Subject: quarterly report\r\nMessage-ID: <q1@demo.test>\r\n\r\nNumbers attached.\r\n"
)

PREPEND = b"Received: from test\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def setup(stack, sink: SmtpSink, clock: Clock):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    sender = await acc.do_create_account(stack.ctx, "zhangsan@demo.test", "Secret-pass-123")
    lisi = await acc.do_create_account(stack.ctx, "lisi@demo.test", "Secret-pass-123")
    zone = MemoryTransport().add("remote.test", "MX", (10, "mx.remote.test"))
    zone.add("mx.remote.test", "A", "127.0.0.1")
    settings = QueueSettings.model_validate(
        {"remote_port": sink.port, "mta_sts": False, "dane": False,
         "retry": {"schedule": [600], "jitter": 0, "max_lifetime": 86400,
                   "delay_warning": 3600}}
    )  # fmt: skip
    resolver = DnsResolver(zone)

    async def is_local(domain: str) -> bool:
        return await stack.ctx.meta.read(d.get_domain(domain)) is not None

    local = LocalAgent(stack.ctx)
    sched = Scheduler(
        stack.ctx, settings, hostname="mx.demo.test", local=local,
        remote=RemoteSmtpAgent(resolver, settings, helo="mx.demo.test"),
        is_local=is_local, clock=clock, rng=lambda: 0.5,
    )  # fmt: skip
    local.forward = sched.forward
    return t, sender, lisi, sched


async def test_delivery_retry_expiry_and_bounces(stack) -> None:  # type: ignore[no-untyped-def]
    sink = await SmtpSink(
        rcpt_replies={"nouser@remote.test": "550 5.1.1 no such user",
                      "later@remote.test": "451 4.2.1 try again later"}
    ).start()  # fmt: skip
    clock = Clock()
    try:
        tenant, sender, lisi, sched = await setup(stack, sink, clock)
        qid = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="zhangsan@demo.test",
            recipients=[qa.EnvelopeRecipient(a) for a in
                        ("lisi@demo.test", "ok@remote.test", "nouser@remote.test",
                         "later@remote.test", "ghost@demo.test")],
            prepend=PREPEND, now=int(clock.now), lifetime=86400,
        )  # fmt: skip
        await sched.drain()
        states = {r.rcpt: r for r in await stack.ctx.meta.read(qs.recipients_of(qid))}
        assert {k: v.state for k, v in states.items()} == {
            "lisi@demo.test": "delivered", "ok@remote.test": "delivered",
            "nouser@remote.test": "failed", "later@remote.test": "deferred",
            "ghost@demo.test": "failed",
        }  # fmt: skip
        assert states["nouser@remote.test"].last_status == "5.1.1"
        assert states["later@remote.test"].next_attempt_at == int(clock.now) + 600
        assert len(sink.transactions) == 1
        tx = sink.transactions[0]
        assert tx.rcpts == ["ok@remote.test"] and tx.mail_from == "zhangsan@demo.test"
        assert tx.data.startswith(b"Received: from test\r\nFrom: Zhang San")
        assert f"SIZE={len(MAIL) + len(PREPEND)}" in tx.mail_params
        inbox = await stack.reader.mailbox_by_role(lisi.id, "inbox")
        assert len(await stack.reader.mailbox_entries(inbox.id)) == 1
        # One bounce for both failures of this attempt (local and remote) went to the sender.
        s_inbox = await stack.reader.mailbox_by_role(sender.id, "inbox")
        bounces = await stack.reader.mailbox_entries(s_inbox.id)
        assert len(bounces) == 1
        [m] = await stack.reader.messages(sender.id, [bounces[0].message_id])
        text = await stack.ctx.blobs.get(tenant.id, m.blob_id)
        assert b"Final-Recipient: rfc822; nouser@remote.test" in text
        assert b"Final-Recipient: rfc822; ghost@demo.test" in text
        assert text.count(b"Status: 5.1.1") == 2
        # Later: retried, still 451; past the delay warning -> one delay notice.
        clock.now += 3700
        await sched.drain()
        assert len(await stack.reader.mailbox_entries(s_inbox.id)) == 2
        r = (await stack.ctx.meta.read(qs.recipients_of(qid)))[3]
        assert (r.state, r.attempts, r.delay_notified) == ("deferred", 2, True)
        # Past the lifetime: fails with 4.4.7, bounced, the message is purged.
        clock.now += 86400
        await sched.drain()
        assert len(await stack.reader.mailbox_entries(s_inbox.id)) == 3
        assert await stack.ctx.meta.read(qs.get_message(qid)) is None
        assert await stack.ctx.meta.read(qs.count_active()) == 0
    finally:
        await sink.stop()


async def test_null_sender_never_bounces_and_never_notify(stack) -> None:  # type: ignore[no-untyped-def]
    sink = await SmtpSink(rcpt_replies={"nouser@remote.test": "550 5.1.1 no"}).start()
    clock = Clock()
    try:
        tenant, sender, _lisi, sched = await setup(stack, sink, clock)
        for mail_from, notify in (("", None), ("zhangsan@demo.test", "NEVER")):
            await qa.do_enqueue_message(
                stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from=mail_from,
                recipients=[qa.EnvelopeRecipient("nouser@remote.test", notify=notify)],
                now=int(clock.now),
            )  # fmt: skip
        await sched.drain()
        s_inbox = await stack.reader.mailbox_by_role(sender.id, "inbox")
        assert await stack.reader.mailbox_entries(s_inbox.id) == []
        assert await stack.ctx.meta.read(qs.list_messages()) == []
    finally:
        await sink.stop()


async def test_queue_admin_actions(stack) -> None:  # type: ignore[no-untyped-def]
    sink = await SmtpSink().start()
    clock = Clock()
    try:
        tenant, _sender, _lisi, sched = await setup(stack, sink, clock)
        qid = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="zhangsan@demo.test",
            recipients=[qa.EnvelopeRecipient("ok@remote.test", notify="success,failure",
                                             orcpt="rfc822;ok@remote.test")],
            envid="E1", ret="hdrs", now=int(clock.now),
        )  # fmt: skip
        await qa.do_hold_queue_message(stack.ctx, qid)
        await sched.drain()
        assert sink.transactions == []
        [summary] = await stack.ctx.meta.read(qs.list_messages(held_only=True))
        assert summary.message.held and summary.active == 1 and summary.message.ret == "HDRS"
        await qa.do_release_queue_message(stack.ctx, qid)
        assert await qa.do_retry_queue_message(stack.ctx, qid) == 1
        await sched.drain()
        [tx] = sink.transactions
        assert "RET=HDRS" in tx.mail_params and "ENVID=E1" in tx.mail_params
        with pytest.raises(NotFound):
            await qa.do_delete_queue_message(stack.ctx, qid)  # purged after delivery
        qid2 = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="",
            recipients=[qa.EnvelopeRecipient("x@remote.test")], now=int(clock.now),
        )  # fmt: skip
        await qa.do_delete_queue_message(stack.ctx, qid2)
        assert await stack.ctx.meta.read(qs.get_message(qid2)) is None
        with pytest.raises(ValidationError):
            await qa.do_enqueue_message(stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="",
                                        recipients=[qa.EnvelopeRecipient("x@remote.test",
                                                                         notify="NEVER,SUCCESS")])  # fmt: skip
        with pytest.raises(ValidationError):
            await qa.do_enqueue_message(stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="",
                                        recipients=[])  # fmt: skip
    finally:
        await sink.stop()


async def test_claim_leases_prevent_double_attempts(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    qid = await qa.do_enqueue_message(
        stack.ctx, tenant_id=t.id, raw=MAIL, mail_from="a@demo.test",
        recipients=[qa.EnvelopeRecipient("b@remote.test")], now=100,
    )  # fmt: skip
    first = await stack.ctx.meta.write(qs.claim_due(200, 2000, 10))
    assert [r.message_id for r in first] == [qid]
    assert await stack.ctx.meta.write(qs.claim_due(300, 3000, 10)) == []
    assert len(await stack.ctx.meta.write(qs.claim_due(2000, 4000, 10))) == 1  # lease expired


async def test_bounce_is_settled_once(stack) -> None:  # type: ignore[no-untyped-def]
    """A failure recorded but not yet reported (e.g. a crash in between) is bounced by the
    next sweep, exactly once even if two schedulers sweep."""
    sink = await SmtpSink().start()
    clock = Clock()
    try:
        tenant, sender, _lisi, sched = await setup(stack, sink, clock)
        qid = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="zhangsan@demo.test",
            recipients=[qa.EnvelopeRecipient("ghost@demo.test")], now=int(clock.now),
        )  # fmt: skip
        [r] = await stack.ctx.meta.write(qs.claim_due(int(clock.now), int(clock.now) + 60, 10))
        await qa.do_record_attempts(stack.ctx, [qs.Attempt(r.id, "failed", int(clock.now),
                                                           int(clock.now), 550, "5.1.1", "no")])  # fmt: skip
        results = await asyncio.gather(sched.sweep_bounces(), sched.sweep_bounces())
        assert sorted(results) == [0, 1]
        await sched.drain()
        s_inbox = await stack.reader.mailbox_by_role(sender.id, "inbox")
        assert len(await stack.reader.mailbox_entries(s_inbox.id)) == 1
        assert await stack.ctx.meta.read(qs.get_message(qid)) is None
    finally:
        await sink.stop()


def _record_ops(stack, monkeypatch, method: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the store ops run through ``meta.<method>`` (``read`` or ``write``)."""
    names: list[str] = []
    real = getattr(stack.ctx.meta, method)

    async def recording(op, **kw):  # type: ignore[no-untyped-def]
        names.append(op.gi_code.co_name)
        return await real(op, **kw)

    monkeypatch.setattr(stack.ctx.meta, method, recording)
    return names


async def test_an_idle_poll_writes_nothing(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The scheduler's poll of a queue with nothing due and nothing finished is reads only:
    a write transaction per ``poll_interval`` held SQLite's write lock each time and made the
    IMAP sessions' flag changes queue behind it (``bench/README.md``, session 14). Once a
    message is due, the same poll claims it; once it is finished, the purge removes it."""
    sink = await SmtpSink().start()
    clock = Clock()
    try:
        tenant, _sender, _lisi, sched = await setup(stack, sink, clock)
        writes = _record_ops(stack, monkeypatch, "write")
        assert await sched.run_once() == 0
        assert await qa.do_purge_finished(stack.ctx) == []
        assert writes == []
        qid = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="zhangsan@demo.test",
            recipients=[qa.EnvelopeRecipient("ok@remote.test")], now=int(clock.now),
            lifetime=86400,
        )  # fmt: skip
        writes.clear()
        assert await sched.run_once() == 1
        assert writes[0] == "claim_due"
        await asyncio.gather(*list(sched._tasks))
        assert [m.id for m in await qa.do_purge_finished(stack.ctx)] == [qid]
        assert writes[-1] == "purge_finished"
        assert len(sink.transactions) == 1
    finally:
        await sink.stop()


async def test_polls_look_for_finished_messages_only_when_one_may_have_finished(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``any_finished`` scans every queued message, so with a backlog of deferred mail each
    poll paid for the whole queue. A poll now looks only after this scheduler saw a message
    finish (or at start), and every ``PURGE_CHECK_POLLS`` polls for what finished elsewhere."""
    from rongmail.queue import scheduler as sch

    sink = await SmtpSink().start()
    clock = Clock()
    try:
        tenant, _sender, _lisi, sched = await setup(stack, sink, clock)
        reads = _record_ops(stack, monkeypatch, "read")
        assert await sched.purge_finished() == 0  # at start: one look
        assert reads.count("any_finished") == 1
        for _ in range(sch.PURGE_CHECK_POLLS - 1):
            assert await sched.purge_finished() == 0
        assert reads.count("any_finished") == 1  # quiet polls: no look
        assert await sched.purge_finished() == 0  # the periodic look
        assert reads.count("any_finished") == 2
        qid = await qa.do_enqueue_message(
            stack.ctx, tenant_id=tenant.id, raw=MAIL, mail_from="zhangsan@demo.test",
            recipients=[qa.EnvelopeRecipient("ok@remote.test")], now=int(clock.now),
            lifetime=86400,
        )  # fmt: skip
        assert await sched.run_once() == 1
        await asyncio.gather(*list(sched._tasks))
        assert len(sink.transactions) == 1
        assert await stack.ctx.meta.read(qs.get_message(qid)) is not None
        assert await sched.purge_finished() == 1  # it saw the delivery: the next poll purges
        assert await stack.ctx.meta.read(qs.get_message(qid)) is None
        assert reads.count("any_finished") == 3
        await sched.purge_finished()
        assert reads.count("any_finished") == 3
    finally:
        await sink.stop()
