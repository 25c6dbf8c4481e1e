"""Learning from user actions through the change bus, as IMAP/JMAP/webmail produce them."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from rongmail.actions.messages import Target, do_deliver, do_move_messages, do_set_flags
from rongmail.actions.spam import SpamModels
from rongmail.core import changes as ch
from rongmail.core.flags import JUNK, NOTJUNK, SEEN
from rongmail.store.sql import spam as ss
from rongmail.store.sql.mail import set_flags
from rongmail.workers.spam_learner import RoleCache, decisions, run_spam_learner

from .conftest import World
from .samples import ham, spam


async def _settle(world: World, n_spam: int, n_ham: int) -> None:
    for _ in range(200):
        m = await world.models.get(world.tenant_id)
        if (m.n_spam, m.n_ham) == (n_spam, n_ham):
            return
        await asyncio.sleep(0.02)
    m = await world.models.get(world.tenant_id)
    raise AssertionError(f"learned spam={m.n_spam} ham={m.n_ham}, want {n_spam}/{n_ham}")


async def test_moves_and_keywords_train_the_model(world: World) -> None:
    started = asyncio.Event()
    task = asyncio.create_task(run_spam_learner(world.ctx, world.reader, world.models,
                                                started=started))
    await started.wait()
    try:
        uid = world.user.id
        inbox = await world.reader.mailbox_by_role(uid, "inbox")
        junk = await world.reader.mailbox_by_role(uid, "junk")
        assert inbox is not None and junk is not None
        # deliveries (also into Junk, by the filter) are not user feedback
        [a] = await do_deliver(world.ctx, spam(n=1), [Target(uid)])
        [b] = await do_deliver(world.ctx, ham(n=2), [Target(uid, role="junk")])
        [c] = await do_deliver(world.ctx, ham(n=3), [Target(uid)])
        await asyncio.sleep(0.1)
        await _settle(world, 0, 0)
        # into Junk: spam; out of Junk: ham
        await do_move_messages(world.ctx, uid, [a.message_id], inbox.id, junk.id)
        await _settle(world, 1, 0)
        await do_move_messages(world.ctx, uid, [b.message_id], junk.id, inbox.id)
        await _settle(world, 1, 1)
        # the same decision again is not learned twice
        await do_move_messages(world.ctx, uid, [a.message_id], junk.id, inbox.id)
        await _settle(world, 1, 2)
        await do_move_messages(world.ctx, uid, [a.message_id], inbox.id, junk.id)
        await _settle(world, 2, 2)
        # keywords: $Junk / $NotJunk (IMAP STORE, JMAP keywords)
        await do_set_flags(world.ctx, uid, [c.message_id], add=JUNK)
        await _settle(world, 3, 2)
        await do_set_flags(world.ctx, uid, [c.message_id], add=NOTJUNK, remove=JUNK)
        await _settle(world, 3, 3)
        await do_set_flags(world.ctx, uid, [c.message_id], add=1)  # \Seen: nothing new
        await asyncio.sleep(0.1)
        await _settle(world, 3, 3)
        labels = await world.ctx.meta.read(ss.learned_labels(uid, [a.message_id, c.message_id]))
        assert labels == {a.message_id: "spam", c.message_id: "ham"}
    finally:
        task.cancel()


class _CountingReader:
    """The world's reader, counting ``message_flags`` reads."""

    def __init__(self, reader: object) -> None:
        self._reader = reader
        self.flag_reads = 0

    async def message_flags(self, account_id: int, ids: list[int]) -> dict[int, int]:
        self.flag_reads += 1
        return await self._reader.message_flags(account_id, ids)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._reader, name)


async def test_flag_changes_that_leave_junk_alone_are_not_read(world: World) -> None:
    uid = world.user.id
    [m] = await do_deliver(world.ctx, ham(n=7), [Target(uid)])
    reader = _CountingReader(world.reader)
    roles = RoleCache(world.reader)  # type: ignore[arg-type]
    # \Seen only: the change says which bits changed, and neither junk bit is among them
    _, _, seen = await world.ctx.meta.write(set_flags(uid, [m.message_id], add=SEEN))
    [email] = [c for c in seen if c.type == ch.EMAIL]
    assert email.flags_changed == SEEN
    assert await decisions(seen, reader, roles) == {}  # type: ignore[arg-type]
    assert reader.flag_reads == 0
    # $Junk: read, and learned as spam
    _, _, junk = await world.ctx.meta.write(set_flags(uid, [m.message_id], add=JUNK))
    assert [c.flags_changed for c in junk if c.type == ch.EMAIL] == [JUNK]
    assert await decisions(junk, reader, roles) == {uid: {m.message_id: "spam"}}  # type: ignore[arg-type]
    assert reader.flag_reads == 1
    # read back from the change log (another process's write) the hint is gone: read
    unknown = [replace(c, flags_changed=None) for c in seen]
    assert unknown == seen  # not part of a change's identity
    assert await decisions(unknown, reader, roles) == {uid: {m.message_id: "spam"}}  # type: ignore[arg-type]
    assert reader.flag_reads == 2


async def test_model_persists_across_restarts(world: World) -> None:
    for i in range(3):
        await world.models.learn(world.tenant_id, spam(n=i), is_spam=True)
    await world.models.learn(world.tenant_id, ham(), is_spam=False)
    assert await world.models.flush() == 1
    assert await world.models.flush() == 0  # nothing dirty
    fresh = SpamModels(world.ctx)
    m = await fresh.get(world.tenant_id)
    assert (m.n_spam, m.n_ham) == (3, 1)
    data = await world.ctx.meta.read(ss.get_model(world.tenant_id))
    assert data is not None and len(data) <= ss.MAX_MODEL_BYTES


async def test_saver_flushes_on_shutdown(world: World) -> None:
    await world.models.learn(world.tenant_id, spam(), is_spam=True)
    task = asyncio.create_task(world.models.run_saver(every=3600))
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert await world.ctx.meta.read(ss.get_model(world.tenant_id)) is not None
