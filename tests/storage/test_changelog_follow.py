"""The change-log follower on a real store (SQLite and PostgreSQL): what one process commits,
another process's follower publishes, once, with the same changes."""

from __future__ import annotations

from rongmail.actions import accounts as acc
from rongmail.actions import messages as msg
from rongmail.bus.follower import ChangeFollower, FollowedBus
from rongmail.store.sql import changelog

MAIL = (
    b"From: a@demo.test\r\nTo: lisi@demo.test\r\nSubject: hi\r\nMessage-ID: <f1@x>\r\n\r\nbody\r\n"
)


async def test_follower_sees_another_writers_commits(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    account = await acc.do_create_account(stack.ctx, "lisi@demo.test", "Secret-pass-123")
    meta = stack.ctx.meta

    async def fetch(after: int):  # type: ignore[no-untyped-def]
        return await meta.read(changelog.changes_after_id(after))

    other = FollowedBus()  # the bus of "another process" on the same store
    follower = ChangeFollower(other, fetch, await meta.read(changelog.last_change_id()))
    theirs = other.subscribe(account.id)
    ours = stack.ctx.bus.subscribe(account.id)
    inbox = await stack.reader.mailbox_by_role(account.id, "inbox")
    await msg.do_append_message(stack.ctx, account.id, [inbox.id], MAIL)
    assert await follower.poll_once() > 0
    published = ours.queue.get_nowait()
    followed = theirs.queue.get_nowait()
    assert sorted(followed, key=repr) == sorted(published, key=repr)
    assert await follower.poll_once() == 0
    assert theirs.queue.empty()
