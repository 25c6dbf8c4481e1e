"""Regression: POP3 DELE + QUIT removes a message from the maildrop only. RFC 1939's maildrop is
the inbox; an email that is also filed in another mailbox (IMAP COPY, JMAP ``mailboxIds``) must
stay there. It used to be destroyed from every mailbox."""

from __future__ import annotations

import poplib
from typing import Any

from pop3_helpers import PASSWORD, USER, Pop3Stack, message

from rongmail.core import changes as ch


def _archive_copy(stack: Pop3Stack, uid: int) -> int:
    """File the inbox message ``uid`` in a second mailbox too; returns that mailbox id."""
    from rongmail.actions.mailboxes import do_create_mailbox
    from rongmail.actions.messages import do_copy_messages

    async def go() -> int:
        account = stack.accounts[USER]
        entries = await stack.reader.mailbox_entries(stack.inboxes[USER].id)
        mid = next(e.message_id for e in entries if e.uid == uid)
        archive = await do_create_mailbox(stack.ctx, account.id, "Kept")
        await do_copy_messages(stack.ctx, account.id, [mid], archive.id)
        return int(archive.id)

    return stack.run(go())


def _message_ids(stack: Pop3Stack, mailbox_id: int) -> list[int]:
    async def go() -> list[int]:
        return sorted(e.message_id for e in await stack.reader.mailbox_entries(mailbox_id))

    return stack.run(go())


def test_dele_quit_keeps_the_email_in_other_mailboxes(pop3_plain: Pop3Stack) -> None:
    filed, only_inbox, kept = (pop3_plain.deliver(message(s)) for s in ("filed", "gone", "kept"))
    archive = _archive_copy(pop3_plain, filed)
    in_archive = _message_ids(pop3_plain, archive)
    assert len(in_archive) == 1

    client = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    client.user(USER)
    client.pass_(PASSWORD)
    client.dele(1)  # "filed": in the inbox and in "Kept"
    client.dele(2)  # "gone": only in the inbox
    assert client.quit() == b"+OK mail.demo.test signing off, 2 messages deleted"

    assert pop3_plain.inbox_uids() == [kept]
    assert _message_ids(pop3_plain, archive) == in_archive  # still filed, same email

    async def emails() -> list[Any]:
        account = pop3_plain.accounts[USER]
        return await pop3_plain.reader.messages(account.id, in_archive)

    (survivor,) = pop3_plain.run(emails())
    assert survivor.mailbox_ids == (archive,)
    assert only_inbox not in pop3_plain.inbox_uids()


async def test_remove_from_mailbox_op_on_both_backends(stack: Any) -> None:
    """The op behind it (``do_remove_from_mailbox``): one mailbox only; orphans destroyed;
    UIDs no longer there skipped; change rows for IMAP/JMAP."""
    from rongmail.actions import accounts as acc
    from rongmail.actions.mailboxes import do_create_mailbox
    from rongmail.actions.messages import (
        do_append_message,
        do_copy_messages,
        do_remove_from_mailbox,
    )

    ctx, reader = stack.ctx, stack.reader
    tenant = await acc.do_create_tenant(ctx, "demo")
    await acc.do_create_domain(ctx, tenant.id, "demo.test")
    account = await acc.do_create_account(ctx, USER, PASSWORD)
    inbox = await reader.mailbox_by_role(account.id, "inbox")
    other = await do_create_mailbox(ctx, account.id, "Kept")
    a = await do_append_message(ctx, account.id, [inbox.id], message("a"))
    b = await do_append_message(ctx, account.id, [inbox.id], message("b"))
    await do_copy_messages(ctx, account.id, [a.message_id], other.id)
    before = max(c.modseq for c in await reader.changes_since(account.id, 0))

    removed = await do_remove_from_mailbox(ctx, account.id, inbox.id, [a.uid, b.uid, 999])
    assert removed == sorted([a.uid, b.uid])
    assert await reader.mailbox_entries(inbox.id) == []
    assert [e.message_id for e in await reader.mailbox_entries(other.id)] == [a.message_id]
    (kept,) = await reader.messages(account.id, [a.message_id, b.message_id])
    assert kept.id == a.message_id and kept.mailbox_ids == (other.id,)
    changes = await reader.changes_since(account.id, before)
    email = {(c.object_id, c.action) for c in changes if c.type == ch.EMAIL}
    assert (a.message_id, "updated") in email and (b.message_id, "destroyed") in email
    removed_rows = {
        (c.mailbox_id, c.uid)
        for c in changes
        if c.type == ch.MAILBOX_MESSAGE and c.action == "destroyed"
    }
    assert removed_rows == {(inbox.id, a.uid), (inbox.id, b.uid)}
    assert await do_remove_from_mailbox(ctx, account.id, inbox.id, [a.uid]) == []
