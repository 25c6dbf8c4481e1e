"""Loading a maildrop from the store: numbering by UID, canonical sizes, the size cache."""

from __future__ import annotations

from typing import Any

import pytest

from rongmail.protocols.pop3.maildrop import WireSizes, load_maildrop, message_data
from rongmail.protocols.pop3.proto.wire import canonical


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_load_maildrop(stack: Any) -> None:
    from rongmail.actions import accounts as acc
    from rongmail.actions.messages import do_append_message, do_destroy_messages

    ctx, reader = stack.ctx, stack.reader
    tenant = await acc.do_create_tenant(ctx, "t")
    await acc.do_create_domain(ctx, tenant.id, "t.test")
    account = await acc.do_create_account(ctx, "a@t.test", "Long-enough-pass-1")
    inbox = await reader.mailbox_by_role(account.id, "inbox")
    raws = [b"Subject: lf\n\nbody\n", b"Subject: crlf\r\n\r\nbody\r\n", b"Subject: x\n\nno end"]
    results = [await do_append_message(ctx, account.id, [inbox.id], r) for r in raws]
    await do_destroy_messages(ctx, account.id, [results[1].message_id])

    sizes = WireSizes()
    drop = await load_maildrop(reader, account, sizes)
    assert [(i.number, i.uid) for i in drop.live()] == [(1, results[0].uid), (2, results[2].uid)]
    assert [i.size for i in drop.live()] == [len(canonical(raws[0])), len(canonical(raws[2]))]
    assert drop.uidvalidity == inbox.uidvalidity
    for item in drop.live():
        assert len(await message_data(reader, drop, item)) == item.size
        assert sizes.get(account.tenant_id, item.blob_id) == item.size

    class NoBlobs:
        """A reader whose blobs must not be read: every size comes from the cache."""

        def __getattr__(self, name: str) -> Any:
            if name == "message_bytes":
                raise AssertionError("blob read despite the cache")
            return getattr(reader, name)

    again = await load_maildrop(NoBlobs(), account, sizes)  # type: ignore[arg-type]
    assert [i.size for i in again.live()] == [i.size for i in drop.live()]


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_unreadable_blob_does_not_block_the_maildrop(stack: Any) -> None:
    from rongmail.actions import accounts as acc
    from rongmail.actions.messages import do_append_message

    ctx, reader = stack.ctx, stack.reader
    tenant = await acc.do_create_tenant(ctx, "t")
    await acc.do_create_domain(ctx, tenant.id, "t.test")
    account = await acc.do_create_account(ctx, "a@t.test", "Long-enough-pass-1")
    inbox = await reader.mailbox_by_role(account.id, "inbox")
    good = await do_append_message(ctx, account.id, [inbox.id], b"Subject: ok\r\n\r\nx\r\n")
    bad = await do_append_message(ctx, account.id, [inbox.id], b"Subject: bad\n\ny\n")

    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(reader, name)

        async def message_bytes(self, tenant_id: int, blob_id: str) -> bytes:
            if blob_id == bad.blob_id:
                raise OSError("disk error")
            return bytes(await reader.message_bytes(tenant_id, blob_id))

    sizes = WireSizes()
    drop = await load_maildrop(Broken(), account, sizes)  # type: ignore[arg-type]
    assert [i.size for i in drop.live()] == [good.size, bad.size]  # stored size as fallback
    assert sizes.get(account.tenant_id, bad.blob_id) is None  # not cached: retried next time
