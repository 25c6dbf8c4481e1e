"""Small delivered bodies in the metadata store (``store.inline_blobs``, migration 0101).

On both backends: a delivery, append or import of at most ``inline_max`` bytes writes its
sealed body in its own transaction and no file; larger ones use files; reads find either; the
same content is stored once; GC drops a row only when nothing references it.
"""

from __future__ import annotations

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import messages as msg
from rongmail.store.inline_blobs import InlineBlobStore
from rongmail.store.sql import blobs as sb
from rongmail.store.sql.q import Q
from rongmail.workers.gc import collect

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SMALL = b"From: a@remote.test\r\nSubject: small\r\n\r\n" + b"plaintext-marker " * 50 + b"\r\n"


async def _account(stack):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    return await acc.do_create_account(stack.ctx, "inline@demo.test", "Inline-pass-123")


def _files(store: InlineBlobStore) -> list[str]:
    return sorted(p.name for p in store.files.root.rglob("*") if p.is_file())


async def _inline_rows(stack, tenant: int) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    def op():  # type: ignore[no-untyped-def]
        rows = yield Q("SELECT blob_id, data FROM blob_inline WHERE tenant_id = ?", (tenant,))
        return {str(r[0]): bytes(r[1]) for r in rows}

    return await stack.ctx.meta.read(op())


async def _refs(stack, tenant: int, blob_id: str) -> int | None:  # type: ignore[no-untyped-def]
    def op():  # type: ignore[no-untyped-def]
        rows = yield Q("SELECT refs FROM blob_ref WHERE tenant_id = ? AND blob_id = ?",
                       (tenant, blob_id))
        return int(rows[0][0]) if rows else None

    return await stack.ctx.meta.read(op())


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
async def test_small_delivery_is_stored_by_its_own_transaction(stack) -> None:  # type: ignore[no-untyped-def]
    store = stack.ctx.blobs
    assert isinstance(store, InlineBlobStore)
    a = await _account(stack)
    [r] = await msg.do_deliver(stack.ctx, SMALL, [msg.Target(a.id)])
    rows = await _inline_rows(stack, a.tenant_id)
    assert list(rows) == [r.blob_id]
    assert _files(store) == []  # no blob file: the commit made it durable
    assert b"plaintext-marker" not in rows[r.blob_id]  # sealed with the tenant's key
    # every read path: by size (the IMAP/POP3 path), without, and the port's get
    assert await stack.reader.message_bytes(a.tenant_id, r.blob_id, size_hint=len(SMALL)) == SMALL
    assert await stack.reader.message_bytes(a.tenant_id, r.blob_id) == SMALL
    assert await store.get(a.tenant_id, r.blob_id) == SMALL
    assert await store.exists(a.tenant_id, r.blob_id)
    # the AAD binds the bytes to their id: stored under another id they do not open
    from rongmail.errors import InternalError

    with pytest.raises(InternalError):
        store.files.unseal(a.tenant_id, "0" * 64, rows[r.blob_id])


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
async def test_appends_and_imports_are_inline_large_bodies_are_files(stack) -> None:  # type: ignore[no-untyped-def]
    from rongmail.actions.importing import ImportItem, do_import_batch

    store = stack.ctx.blobs
    store.inline_max = 1024
    a = await _account(stack)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    big = SMALL + b"x" * 2048 + b"\r\n"
    [r] = await msg.do_deliver(stack.ctx, big, [msg.Target(a.id)])
    appended = await msg.do_append_message(stack.ctx, a.id, [inbox.id], SMALL)
    [multi] = await msg.do_append_messages(stack.ctx, a.id, inbox.id,
                                           [msg.NewAppend(SMALL + b"multi\r\n")])
    small_imp, big_imp = SMALL + b"imported\r\n", big + b"imported\r\n"
    report = await do_import_batch(stack.ctx, a.id, [ImportItem(inbox.id, small_imp),
                                                     ImportItem(inbox.id, big_imp)])
    assert report.imported == 2
    rows = await _inline_rows(stack, a.tenant_id)
    assert appended.blob_id in rows and multi.blob_id in rows
    assert store.files.blob_id(a.tenant_id, small_imp) in rows
    assert _files(store) == sorted([r.blob_id, store.files.blob_id(a.tenant_id, big_imp)])
    assert await stack.reader.message_bytes(a.tenant_id, r.blob_id, size_hint=len(big)) == big
    assert await stack.reader.message_bytes(
        a.tenant_id, appended.blob_id, size_hint=len(SMALL)) == SMALL
    for raw in (small_imp, big_imp):
        bid = store.files.blob_id(a.tenant_id, raw)
        assert await stack.reader.message_bytes(a.tenant_id, bid, size_hint=len(raw)) == raw
    # with the setting at 0 every delivery writes a file
    store.inline_max = 0
    [r0] = await msg.do_deliver(stack.ctx, SMALL + b"zero\r\n", [msg.Target(a.id)])
    assert r0.blob_id in _files(store)
    assert r0.blob_id not in await _inline_rows(stack, a.tenant_id)


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
async def test_same_content_is_stored_once_and_collected_when_unreferenced(stack) -> None:  # type: ignore[no-untyped-def]
    a = await _account(stack)
    [r1] = await msg.do_deliver(stack.ctx, SMALL, [msg.Target(a.id)])
    [r2] = await msg.do_deliver(stack.ctx, SMALL, [msg.Target(a.id)])
    keep_raw = SMALL.replace(b"small", b"keep")
    [keep] = await msg.do_deliver(stack.ctx, keep_raw, [msg.Target(a.id)])
    assert r1.blob_id == r2.blob_id
    assert set(await _inline_rows(stack, a.tenant_id)) == {r1.blob_id, keep.blob_id}
    assert await _refs(stack, a.tenant_id, r1.blob_id) == 2
    store = stack.ctx.blobs.files
    # one copy expunged: still referenced, GC keeps it
    await msg.do_destroy_messages(stack.ctx, a.id, [r1.message_id])
    assert await collect(stack.ctx.meta, store, grace=0) == 0
    assert r1.blob_id in await _inline_rows(stack, a.tenant_id)
    assert await stack.reader.message_bytes(a.tenant_id, r2.blob_id, size_hint=len(SMALL)) == SMALL
    # the last copy expunged: the row goes (no grace period: nothing can reference it again
    # without committing its own reference first), the other message's row stays
    await msg.do_destroy_messages(stack.ctx, a.id, [r2.message_id])
    await collect(stack.ctx.meta, store, grace=0)
    rows = await _inline_rows(stack, a.tenant_id)
    assert set(rows) == {keep.blob_id}
    # delivered again: stored again, readable
    [again] = await msg.do_deliver(stack.ctx, SMALL, [msg.Target(a.id)])
    assert await stack.reader.message_bytes(a.tenant_id, again.blob_id) == SMALL


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
async def test_drop_rechecks_references_and_orphans_are_collected(stack) -> None:  # type: ignore[no-untyped-def]
    a = await _account(stack)
    [live] = await msg.do_deliver(stack.ctx, SMALL, [msg.Target(a.id)])
    [lost] = await msg.do_deliver(stack.ctx, SMALL + b"lost\r\n", [msg.Target(a.id)])
    # a GC pass that read a stale candidate list must not drop a referenced row
    assert await stack.ctx.meta.write(sb.drop_inline(a.tenant_id, [live.blob_id])) == 0
    # a reference row that vanished (a GC pass stopped between the two deletes): the data row
    # is an orphan, collected by the next pass; the live one stays
    await msg.do_destroy_messages(stack.ctx, a.id, [lost.message_id])

    def drop_ref():  # type: ignore[no-untyped-def]
        yield Q("DELETE FROM blob_ref WHERE tenant_id = ? AND blob_id = ?",
                (a.tenant_id, lost.blob_id))

    await stack.ctx.meta.write(drop_ref())
    assert await stack.ctx.meta.read(sb.orphan_inline()) == [(a.tenant_id, lost.blob_id)]
    assert await collect(stack.ctx.meta, stack.ctx.blobs.files, grace=0) == 1
    assert set(await _inline_rows(stack, a.tenant_id)) == {live.blob_id}
    assert await stack.reader.message_bytes(a.tenant_id, live.blob_id) == SMALL
