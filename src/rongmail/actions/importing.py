"""Bulk import (``rongmail import``): many messages into one account, fast and safe.

Per batch: parse and encrypt every message; a body of at most ``[storage] inline_blob_max``
bytes rides in its record and is stored by the batch's commit (``store.inline_blobs``), a
larger one is written to a blob file *without* per-file fsync, and one ``os.sync()`` makes
those files durable; then ONE transaction stores all the metadata (one commit per batch
instead of per message). A crash loses at most the uncommitted batch (its blob files become
garbage for GC); committed messages always have their bytes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rongmail.actions.context import ActionContext
from rongmail.actions.messages import new_message_record, tenant_of
from rongmail.core.changes import Change
from rongmail.core.models import AppendResult
from rongmail.errors import MailError
from rongmail.mime.parse import parse_message
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Op


@dataclass(frozen=True, slots=True)
class ImportItem:
    mailbox_id: int
    raw: bytes
    flags: int = 0
    keywords: frozenset[str] = frozenset()
    received_at: int | None = None


@dataclass
class ImportReport:
    imported: int = 0
    failed: int = 0
    errors: list[str] | None = None


def _prepare(ctx: ActionContext, tenant: int, items: Sequence[ImportItem]
             ) -> list[tuple[ImportItem, ml.NewMessage] | str]:
    out: list[tuple[ImportItem, ml.NewMessage] | str] = []
    put = getattr(ctx.blobs, "put_sync", None)
    seal = getattr(ctx.blobs, "seal_inline", None)
    limit = ctx.settings.limits.max_message_bytes
    files = 0
    for it in items:
        if not it.raw or len(it.raw) > limit:
            out.append("empty or too large")
            continue
        parsed = parse_message(it.raw)
        when = it.received_at or (int(parsed.date.timestamp()) if parsed.date else
                                  int(time.time()))
        # a small body goes into the batch's own commit (store.inline_blobs), a larger one
        # into a file flushed below
        sealed = seal(tenant, it.raw) if seal is not None else None
        if sealed is not None:
            blob_id, data = sealed
        else:
            assert put is not None, "bulk import needs a file blob store"
            blob_id, data = put(tenant, it.raw, fsync=False), None
            files += 1
        rec = new_message_record(parsed, blob_id, len(it.raw), when)
        out.append((it, replace(rec, blob_data=data) if data is not None else rec))
    if files:
        os.sync()  # one flush makes every blob file of the batch durable before the commit
    return out


@dataclass
class PreparedBatch:
    """A batch whose blob files are written and durable (small bodies ride in their records);
    only its metadata remains to commit."""

    account_id: int
    tenant_id: int
    prepared: list[tuple[ImportItem, ml.NewMessage] | str]


async def prepare_import_batch(
    ctx: ActionContext, account_id: int, items: Sequence[ImportItem]
) -> PreparedBatch:
    """Parse, index and store the blobs of a batch (in a worker thread)."""
    tenant = await tenant_of(ctx, account_id)
    prepared = await asyncio.to_thread(_prepare, ctx, tenant, items)
    return PreparedBatch(account_id, tenant, prepared)


async def do_import_batch(
    ctx: ActionContext, account_id: int, items: Sequence[ImportItem]
) -> ImportReport:
    return await commit_import_batch(ctx, await prepare_import_batch(ctx, account_id, items))


async def commit_import_batch(ctx: ActionContext, batch: PreparedBatch) -> ImportReport:
    """Store the metadata of a prepared batch in one transaction, then publish the changes.

    Callers may prepare batch N+1 while batch N commits (the CLI import does): the writer
    thread's SQLite work releases the GIL, so parsing and committing overlap."""
    account_id, tenant, prepared = batch.account_id, batch.tenant_id, batch.prepared
    good = [p for p in prepared if not isinstance(p, str)]
    report = ImportReport(failed=len(prepared) - len(good), errors=[])

    def op() -> Op[tuple[list[AppendResult], list[Change]]]:
        res: list[AppendResult] = []
        chs: list[Change] = []
        for it, rec in good:
            r, c = yield from ml.append_message(account_id, tenant, [it.mailbox_id], rec,
                                                it.flags, it.keywords)
            res.append(r)
            chs.extend(c)
        return res, chs

    try:
        results, changes = await ctx.meta.write(op())
    except MailError:
        # one bad message (e.g. over quota) must not sink the batch: retry one by one
        for it, rec in good:
            def single(it: ImportItem = it, rec: ml.NewMessage = rec
                       ) -> Op[tuple[AppendResult, list[Change]]]:
                return (yield from ml.append_message(account_id, tenant, [it.mailbox_id], rec,
                                                     it.flags, it.keywords))
            try:
                _, ch = await ctx.meta.write(single())
                ctx.bus.publish(ch)
                report.imported += 1
            except MailError as e:
                report.failed += 1
                assert report.errors is not None
                report.errors.append(e.public("en"))
        return report
    ctx.bus.publish(changes)
    report.imported = len(results)
    return report
