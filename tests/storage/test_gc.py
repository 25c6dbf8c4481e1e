"""Blob garbage collection removes exactly the unreferenced, untouched blobs."""

from __future__ import annotations

import os
import time

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import messages as msg
from rongmail.workers.gc import collect


@pytest.mark.parametrize("stack", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_gc_keeps_referenced_and_recent_blobs(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "gc@demo.test", "Gc-pass-12345")
    stack.ctx.blobs.inline_max = 0  # every body in a file (small ones: test_inline_blobs.py)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    keep = await msg.do_append_message(stack.ctx, a.id, [inbox.id], b"Subject: keep\r\n\r\nk\r\n")
    gone = await msg.do_append_message(stack.ctx, a.id, [inbox.id], b"Subject: gone\r\n\r\ng\r\n")
    orphan = await stack.ctx.blobs.put(a.tenant_id, b"crashed before commit")
    await msg.do_destroy_messages(stack.ctx, a.id, [gone.message_id])
    store = stack.ctx.blobs.files
    # recent files survive (grace period protects in-flight appends)
    assert await collect(stack.ctx.meta, store, grace=3600) == 0
    old = time.time() - 7200
    for bid in (keep.blob_id, gone.blob_id, orphan):
        os.utime(store._path(a.tenant_id, bid), (old, old))
    assert await collect(stack.ctx.meta, store, grace=3600) == 2
    assert await store.exists(a.tenant_id, keep.blob_id)
    assert not await store.exists(a.tenant_id, gone.blob_id)
    assert not await store.exists(a.tenant_id, orphan)
    # the same content delivered again is stored again and readable
    again = await msg.do_append_message(stack.ctx, a.id, [inbox.id], b"Subject: gone\r\n\r\ng\r\n")
    assert await stack.ctx.blobs.get(a.tenant_id, again.blob_id)


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_gc_keeps_blobs_held_by_the_outbound_queue(stack) -> None:  # type: ignore[no-untyped-def]
    from rongmail.actions.queue import do_enqueue_message

    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "q@demo.test", "Queue-pass-123")
    from rongmail.actions.queue import EnvelopeRecipient

    raw = b"From: q@demo.test\r\nTo: x@remote.test\r\nSubject: held\r\n\r\nbody\r\n"
    await do_enqueue_message(stack.ctx, tenant_id=a.tenant_id, raw=raw, mail_from="q@demo.test",
                             recipients=[EnvelopeRecipient("x@remote.test")])
    store = stack.ctx.blobs.files
    old = time.time() - 7200
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files
    for p in files:
        os.utime(p, (old, old))
    assert await collect(stack.ctx.meta, store, grace=3600) == 0
    assert all(p.exists() for p in files)


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_gc_stats_files_off_the_event_loop(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A pass over a big store takes seconds: every stat runs in a worker thread, never on the
    loop that serves the sessions."""
    import threading

    from rongmail.workers import gc

    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "gc@demo.test", "Gc-pass-12345")
    stack.ctx.blobs.inline_max = 0  # every body in a file (small ones: test_inline_blobs.py)
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    gone = await msg.do_append_message(stack.ctx, a.id, [inbox.id], b"Subject: g\r\n\r\ng\r\n")
    await stack.ctx.blobs.put(a.tenant_id, b"an orphan")
    await msg.do_destroy_messages(stack.ctx, a.id, [gone.message_id])
    seen: list[int] = []
    real = gc._old

    def spy(path, grace, now):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return real(path, grace, now)

    monkeypatch.setattr(gc, "_old", spy)
    await gc.collect(stack.ctx.meta, stack.ctx.blobs.files, grace=3600)
    assert len(seen) >= 2  # the unreferenced blob and the orphan walk
    assert threading.get_ident() not in seen
