"""The storage contract suite: every backend must pass it (DESIGN rule 8).

Runs on SQLite and on the real PostgreSQL at 127.0.0.1:5432 (``stack`` fixture).
"""

from __future__ import annotations

import asyncio

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import mailboxes as mbx
from rongmail.actions import messages as msg
from rongmail.core import flags as fl
from rongmail.errors import AlreadyExists, NotFound, QuotaExceeded, ValidationError

MAIL = (
    "From: =?UTF-8?B?5byg5LiJ?= <zhangsan@example.com>\r\n"
    "To: Li Si <lisi@demo.test>\r\n"
    "Subject: =?UTF-8?B?5YWz5LqO5Y+R56Wo55qE6YCa55+l?=\r\n"  # 关于发票的通知
    "Message-ID: <{mid}@example.com>\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0800\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "您好，请查收本月的报价单和增值税发票。Please see the attached invoice.\r\n"
)


def mail(mid: str = "a1", **kw: str) -> bytes:
    return MAIL.replace("{mid}", mid).encode()


async def setup_account(s, address: str = "lisi@demo.test", quota: int = 0):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(s.ctx, "demo")
    await acc.do_create_domain(s.ctx, t.id, "demo.test")
    return await acc.do_create_account(s.ctx, address, "Secret-pass-123", display_name="Li Si",
                                       quota_bytes=quota)


async def test_account_has_special_use_folders(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    boxes = await stack.reader.mailboxes(a.id)
    assert [b.role for b in boxes] == ["inbox", "drafts", "sent", "junk", "trash", "archive"]
    assert boxes[0].name == "INBOX"
    with pytest.raises(AlreadyExists):
        await acc.do_create_account(stack.ctx, "LISI@demo.test", "Another-pass-1")


async def test_unknown_domain_and_bad_address(stack) -> None:  # type: ignore[no-untyped-def]
    await setup_account(stack)
    with pytest.raises(NotFound):
        await acc.do_create_account(stack.ctx, "x@nowhere.test", "Secret-pass-123")
    with pytest.raises(ValidationError):
        await acc.do_create_account(stack.ctx, "not an address", "Secret-pass-123")
    with pytest.raises(ValidationError):
        await acc.do_create_account(stack.ctx, "y@demo.test", "123")


async def test_append_uids_modseq_changes_and_search(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    m0 = await stack.reader.modseq(a.id)
    r1 = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("a1"))
    r2 = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("a2"), flags=fl.SEEN)
    assert (r1.uid, r2.uid) == (1, 2)
    assert r2.modseq > r1.modseq > m0
    entries = await stack.reader.mailbox_entries(inbox.id)
    assert [e.uid for e in entries] == [1, 2]
    assert entries[1].flags & fl.SEEN
    changes = await stack.reader.changes_since(a.id, m0)
    assert {(c.type, c.action) for c in changes} >= {("Email", "created"),
                                                    ("MailboxMessage", "created")}
    raw = await stack.ctx.blobs.get(a.tenant_id, r1.blob_id)
    assert raw == mail("a1")
    # substring search, Chinese and English, subject and body, 1..n characters
    for q, field in [("发票", None), ("发票", "subject"), ("报价单", "body"), ("价", "body"),
                     ("invoice", "body"), ("voic", None), ("zhangsan", "from_"),
                     ("增值税发票", None), ("V", "body")]:
        ids = await stack.reader.search_text(a.id, q, field=field, mailbox_id=inbox.id)
        assert ids == sorted([r1.message_id, r2.message_id]), (q, field)
    assert await stack.reader.search_text(a.id, "发货", field=None) == []
    assert await stack.reader.search_text(a.id, "报价单", field="subject") == []
    assert await stack.reader.search_text(a.id, "...", field=None) is None


async def test_flags_unchanged_since_and_counts(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    r = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail())
    counts = await stack.reader.mailbox_counts(a.id)
    assert (counts[inbox.id].total, counts[inbox.id].unseen) == (1, 1)
    updated, failed = await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.SEEN,
                                             add_keywords=frozenset({"$label1"}))
    assert failed == [] and updated[0][1] & fl.SEEN and "$label1" in updated[0][2]
    new_modseq = updated[0][3]
    # no-op store changes nothing
    again, failed = await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.SEEN)
    assert again == [] and failed == []
    # UNCHANGEDSINCE older than the message's modseq fails (RFC 7162 §3.1.3)
    _, failed = await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.FLAGGED,
                                       unchanged_since=new_modseq - 1)
    assert failed == [r.message_id]
    counts = await stack.reader.mailbox_counts(a.id)
    assert counts[inbox.id].unseen == 0
    # the flags-only read agrees with the whole row, and skips ids that are not the account's
    (row,) = await stack.reader.messages(a.id, [r.message_id])
    assert await stack.reader.message_flags(a.id, [r.message_id, 10**9]) == {
        r.message_id: row.flags}
    # so does IMAP FETCH's read of the fixed parts
    (parts,) = await stack.reader.message_parts(a.id, [r.message_id, 10**9])
    assert (parts.id, parts.thread_id, parts.blob_id, parts.header_size, parts.bodystructure_json,
            parts.envelope_json) == (row.id, row.thread_id, row.blob_id, row.header_size,
                                     row.bodystructure_json, row.envelope_json)
    assert await stack.reader.message_parts(a.id + 1000, [r.message_id]) == []
    assert row.flags & fl.SEEN


async def test_move_copy_expunge_keep_invariants(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    arch = await stack.reader.mailbox_by_role(a.id, "archive")
    work = await mbx.do_create_mailbox(stack.ctx, a.id, "工作项目")
    rs = [await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail(f"m{i}"))
          for i in range(5)]
    ids = [r.message_id for r in rs]
    moved = await msg.do_move_messages(stack.ctx, a.id, ids[:2], inbox.id, arch.id)
    assert [u for _, u in moved] == [1, 2]
    copied = await msg.do_copy_messages(stack.ctx, a.id, ids[2:3], work.id)
    assert copied == [(ids[2], 1)]
    assert [e.uid for e in await stack.reader.mailbox_entries(inbox.id)] == [3, 4, 5]
    # expunge only \Deleted
    await msg.do_set_flags(stack.ctx, a.id, ids[2:4], add=fl.DELETED)
    gone = await msg.do_expunge(stack.ctx, a.id, inbox.id)
    assert gone == [3, 4]
    # message 2 survives in "work"; message 3 is gone entirely
    left = await stack.reader.messages(a.id, ids)
    assert sorted(m.id for m in left) == sorted([ids[0], ids[1], ids[2], ids[4]])
    acct = await stack.reader.account(a.id)
    assert acct.used_bytes == sum(m.size for m in left)
    # new UIDs never reuse expunged ones
    r = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("new"))
    assert r.uid == 6
    # delete a mailbox with messages; JMAP destroy
    await mbx.do_delete_mailbox(stack.ctx, work.id)
    destroyed, missing = await msg.do_destroy_messages(stack.ctx, a.id, [ids[0], 999999])
    assert destroyed == [ids[0]] and missing == [999999]


async def test_old_view_plus_changes_equals_fresh_view(stack) -> None:  # type: ignore[no-untyped-def]
    """Sync invariant (DESIGN rule 11): replaying the change log onto an old view of a
    mailbox gives the fresh view, for every kind of write."""
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    trash = await stack.reader.mailbox_by_role(a.id, "trash")
    base = [await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail(f"b{i}"))
            for i in range(6)]
    since = await stack.reader.modseq(a.id)
    old = {e.uid: (e.message_id, e.flags) for e in await stack.reader.mailbox_entries(inbox.id)}
    ids = [r.message_id for r in base]
    await msg.do_set_flags(stack.ctx, a.id, ids[:3], add=fl.SEEN)
    await msg.do_move_messages(stack.ctx, a.id, ids[3:4], inbox.id, trash.id)
    await msg.do_set_flags(stack.ctx, a.id, ids[4:5], add=fl.DELETED)
    await msg.do_expunge(stack.ctx, a.id, inbox.id)
    await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("late"))
    await msg.do_destroy_messages(stack.ctx, a.id, ids[5:6])
    view = dict(old)
    for c in await stack.reader.changes_since(a.id, since):
        if c.mailbox_id == inbox.id and c.type == "MailboxMessage":
            if c.action == "destroyed":
                view.pop(c.uid, None)
            elif c.action == "created":
                view[c.uid] = (c.object_id, None)
    changed = await stack.reader.mailbox_entries(inbox.id, changed_since=since)
    for e in changed:
        view[e.uid] = (e.message_id, e.flags)
    fresh = {e.uid: (e.message_id, e.flags) for e in await stack.reader.mailbox_entries(inbox.id)}
    assert view == fresh


async def test_quota_and_dedup(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack, quota=len(mail()) * 2 + 10)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    r1 = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail())
    r2 = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail())
    assert r1.blob_id == r2.blob_id  # content-addressed
    with pytest.raises(QuotaExceeded):
        await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail())
    assert len(await stack.reader.mailbox_entries(inbox.id)) == 2


async def test_concurrent_writers_group_commit(stack) -> None:  # type: ignore[no-untyped-def]
    """Many concurrent deliveries: all commit, UIDs are dense and unique; a failing write in
    the same burst does not disturb the others."""
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")

    async def bad() -> None:
        with pytest.raises(NotFound):
            await msg.do_append_message(stack.ctx, a.id, [987654], mail("bad"))

    jobs = [msg.do_append_message(stack.ctx, a.id, [inbox.id], mail(f"c{i}")) for i in range(60)]
    results = await asyncio.gather(*jobs, bad())
    uids = sorted(r.uid for r in results if r is not None)
    assert uids == list(range(1, 61))


async def test_deliver_many_recipients_one_transaction(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    b = await acc.do_create_account(stack.ctx, "wangwu@demo.test", "Secret-pass-456")
    sub = stack.ctx.bus.subscribe(b.id)
    res = await msg.do_deliver(stack.ctx, mail("multi"), [
        msg.Target(a.id), msg.Target(b.id, role="junk")])
    assert len(res) == 2
    junk = await stack.reader.mailbox_by_role(b.id, "junk")
    assert res[1].mailbox_id == junk.id
    batch = await asyncio.wait_for(sub.get(), 1)
    assert any(c.type == "Email" and c.action == "created" for c in batch)
    with pytest.raises(NotFound):  # unknown account: nothing stored for anyone
        await msg.do_deliver(stack.ctx, mail("x"), [msg.Target(a.id), msg.Target(424242)])
    assert len(await stack.reader.mailbox_entries(res[0].mailbox_id)) == 1


async def test_mailbox_tree_rename_and_cycles(stack) -> None:  # type: ignore[no-untyped-def]
    a = await setup_account(stack)
    p = await mbx.do_create_mailbox(stack.ctx, a.id, "项目")
    c = await mbx.do_create_mailbox(stack.ctx, a.id, "2026", parent_id=p.id)
    with pytest.raises(AlreadyExists):
        await mbx.do_create_mailbox(stack.ctx, a.id, "2026", parent_id=p.id)
    with pytest.raises(ValidationError):
        await mbx.do_rename_mailbox(stack.ctx, p.id, parent_id=c.id)
    r = await mbx.do_rename_mailbox(stack.ctx, c.id, name="2027")
    assert r.name == "2027" and r.parent_id == p.id
    with pytest.raises(ValidationError):
        await mbx.do_delete_mailbox(stack.ctx, p.id)
    with pytest.raises(ValidationError):
        await mbx.do_create_mailbox(stack.ctx, a.id, "a/b")


async def test_acl_grants_override_and_sharing(stack) -> None:  # type: ignore[no-untyped-def]
    """RFC 4314 rights: an explicit grant on a mailbox overrides the owner's account-wide
    delegation (``mailbox_id = 0``); each change bumps the owner's modseq and logs a
    ``Mailbox`` update; removing the grant brings the delegation back."""
    from rongmail.store.sql import admin as adm

    a = await setup_account(stack)
    b = await acc.do_create_account(stack.ctx, "wangwu@demo.test", "Secret-pass-456")
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    sent = await stack.reader.mailbox_by_role(a.id, "sent")
    assert await stack.reader.shared_with(b.id) == []
    m0 = await stack.reader.modseq(a.id)
    assert await mbx.do_set_acl(stack.ctx, inbox.id, "WANGWU@demo.test", "rl") == "lr"
    assert await stack.reader.modseq(a.id) == m0 + 1
    changes = await stack.reader.changes_since(a.id, m0)
    assert [(c.type, c.action, c.object_id) for c in changes] == [("Mailbox", "updated", inbox.id)]
    assert [(e.grantee, e.rights, e.inherited) for e in await stack.reader.acl(inbox.id)] == [
        ("wangwu@demo.test", "lr", False)]
    assert await stack.reader.rights(inbox.id, b.id) == "lr"
    assert [(s.owner, s.mailbox.id, s.rights) for s in await stack.reader.shared_with(b.id)] == [
        ("lisi@demo.test", inbox.id, "lr")]
    # account-wide delegation: every mailbox, the explicit grant still wins on INBOX
    owner = await stack.reader.account(a.id)
    await stack.ctx.meta.write(adm.grant_mailbox(owner, b, "lrswite"))
    shared = {s.mailbox.id: s.rights for s in await stack.reader.shared_with(b.id)}
    assert shared[inbox.id] == "lr" and shared[sent.id] == "lrswite"
    assert [(e.rights, e.inherited) for e in await stack.reader.acl(sent.id)] == [
        ("lrswite", True)]
    await mbx.do_set_acl(stack.ctx, inbox.id, "wangwu@demo.test", "")
    assert await stack.reader.rights(inbox.id, b.id) == "lrswite"
    with pytest.raises(ValidationError):  # owners hold every right implicitly
        await mbx.do_set_acl(stack.ctx, inbox.id, "lisi@demo.test", "lr")
    with pytest.raises(ValidationError):
        await mbx.do_set_acl(stack.ctx, inbox.id, "wangwu@demo.test", "lrz")
    with pytest.raises(NotFound):
        await mbx.do_set_acl(stack.ctx, inbox.id, "nobody@demo.test", "lr")
    # deleting the mailbox ends its grants
    box = await mbx.do_create_mailbox(stack.ctx, a.id, "共享")
    await mbx.do_set_acl(stack.ctx, box.id, "wangwu@demo.test", "lr")
    await mbx.do_delete_mailbox(stack.ctx, box.id)
    assert box.id not in {s.mailbox.id for s in await stack.reader.shared_with(b.id)}


async def test_append_messages_all_or_nothing(stack) -> None:  # type: ignore[no-untyped-def]
    """RFC 3502 MULTIAPPEND: one transaction; UIDs in order; a failure stores nothing."""
    a = await setup_account(stack, quota=0)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    res = await msg.do_append_messages(stack.ctx, a.id, inbox.id, [
        msg.NewAppend(mail("ma1"), fl.SEEN), msg.NewAppend(mail("ma2"), keywords=frozenset({"$x"}))])
    assert [r.uid for r in res] == [1, 2]
    entries = await stack.reader.mailbox_entries(inbox.id)
    assert [bool(e.flags & fl.SEEN) for e in entries] == [True, False]
    with pytest.raises(NotFound):  # unknown mailbox: nothing stored
        await msg.do_append_messages(stack.ctx, a.id, 424242, [msg.NewAppend(mail("ma3"))])
    from rongmail.store.sql import admin as adm

    used = (await stack.reader.account(a.id)).used_bytes
    await stack.ctx.meta.write(adm.set_account_quota(a.id, used + len(mail("ma3")) + 1))
    with pytest.raises(QuotaExceeded):  # the second message would exceed: neither is kept
        await msg.do_append_messages(stack.ctx, a.id, inbox.id, [
            msg.NewAppend(mail("ma3")), msg.NewAppend(mail("ma4"))])
    assert len(await stack.reader.mailbox_entries(inbox.id)) == 2
    assert (await stack.reader.account(a.id)).used_bytes == used


async def test_expunge_clears_deleted_on_copies_elsewhere(stack) -> None:  # type: ignore[no-untyped-def]
    """COPY + STORE \\Deleted + EXPUNGE (a client's move) leaves the copy without the mark,
    announced as a flag change of the other mailbox."""
    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    archive = await stack.reader.mailbox_by_role(a.id, "archive")
    r = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("mv1"), flags=fl.SEEN)
    await msg.do_copy_messages(stack.ctx, a.id, [r.message_id], archive.id)
    await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.DELETED)
    before = (await stack.reader.mailbox(archive.id)).highestmodseq
    m0 = await stack.reader.modseq(a.id)
    assert await msg.do_expunge(stack.ctx, a.id, inbox.id) == [r.uid]
    [entry] = await stack.reader.mailbox_entries(archive.id)
    assert entry.flags == fl.SEEN
    assert (await stack.reader.mailbox(archive.id)).highestmodseq > before
    assert await stack.reader.mailbox_entries(archive.id, changed_since=m0) == [entry]
    # an email in no other mailbox is simply gone
    r2 = await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("mv2"), flags=fl.DELETED)
    assert await msg.do_expunge(stack.ctx, a.id, inbox.id) == [r2.uid]
    assert await stack.reader.messages(a.id, [r2.message_id]) == []


async def test_imap_listing_delta_equals_full_listing(stack) -> None:  # type: ignore[no-untyped-def]
    """The IMAP listing cache rebuilds a changed mailbox from the change log plus targeted
    reads (``view.Touched``, ``Reader.mailbox_entries_of``, no mailbox scan): after every
    kind of write it must equal a full listing, flags, keywords and MODSEQ included."""
    from rongmail.protocols.imap.view import ListingCache

    a = await setup_account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    trash = await stack.reader.mailbox_by_role(a.id, "trash")
    ids = [(await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail(f"d{i}"))).message_id
           for i in range(7)]
    cache = ListingCache()
    first = await cache.listing(stack.reader, await stack.reader.mailbox(inbox.id))
    assert len(first.uids) == 7
    await msg.do_set_flags(stack.ctx, a.id, ids[:2], add=fl.SEEN, add_keywords={"$Work"})
    await msg.do_move_messages(stack.ctx, a.id, ids[2:3], inbox.id, trash.id)
    await msg.do_copy_messages(stack.ctx, a.id, ids[3:4], trash.id)  # MODSEQ moves here
    await msg.do_set_flags(stack.ctx, a.id, ids[4:5], add=fl.DELETED)
    await msg.do_expunge(stack.ctx, a.id, inbox.id)
    await msg.do_append_message(stack.ctx, a.id, [inbox.id], mail("late"))
    await msg.do_destroy_messages(stack.ctx, a.id, ids[5:6])
    delta = await cache.listing(stack.reader, await stack.reader.mailbox(inbox.id))
    full = await stack.reader.mailbox_entries(inbox.id)
    assert [delta.entries[u] for u in delta.uids] == full
    assert await stack.reader.mailbox_entries_of(inbox.id, [full[0].uid, 999], [ids[3]]) == [
        e for e in full if e.uid == full[0].uid or e.message_id == ids[3]]
