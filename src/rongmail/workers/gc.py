"""Blob garbage collection.

A blob file may be deleted when no message references it: its ``blob_ref.refs`` dropped to 0,
or (after a crash between the blob write and the metadata commit) it has no ``blob_ref`` row at
all — and the outbound queue does not hold it either (``queue_message.blob_id``). Deduplicating
writers touch an existing file's mtime before committing, and GC only
deletes files untouched for ``grace`` seconds, so GC can never remove a blob that an append in
flight is about to reference (appends finish in seconds; the grace is an hour by default).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.ports import MetaStore
from rongmail.store.sql import blobs as sb

log = logging.getLogger(__name__)


def _old(path: Path, grace: float, now: float) -> bool:
    try:
        return path.stat().st_mtime < now - grace
    except FileNotFoundError:
        return True


async def collect(meta: MetaStore, store: FsBlobStore, *, grace: float = 3600.0,
                  scan_orphans: bool = True) -> int:
    """One GC pass; returns the number of files removed."""
    now = time.time()
    removed = 0
    while True:
        cands = await meta.read(sb.unreferenced())
        if not cands:
            break
        by_tenant: dict[int, list[str]] = {}
        for tenant, blob_id in cands:
            if _old(store._path(tenant, blob_id), grace, now):
                by_tenant.setdefault(tenant, []).append(blob_id)
        if not by_tenant:
            break
        for tenant, ids in by_tenant.items():
            await meta.write(sb.forget(tenant, ids))
            # a row revived between our read and write keeps its file: re-check
            alive = await meta.read(sb.known(tenant, ids))
            for blob_id in ids:
                if blob_id not in alive:
                    await store.delete(tenant, blob_id)
                    removed += 1
        if len(cands) < 1000:
            break
    if scan_orphans:
        removed += await _orphans(meta, store, grace, now)
    return removed


async def _orphans(meta: MetaStore, store: FsBlobStore, grace: float, now: float) -> int:
    removed = 0
    if not store.root.is_dir():
        return 0
    for tenant_dir in store.root.iterdir():
        if not tenant_dir.name.isdigit():
            continue
        tenant = int(tenant_dir.name)
        batch: list[Path] = []
        for p in tenant_dir.rglob("*"):
            if p.is_file() and len(p.name) == 64 and _old(p, grace, now):
                batch.append(p)
            elif p.is_file() and p.name.endswith(".tmp") and _old(p, grace, now):
                os.unlink(p)  # an interrupted write
        for i in range(0, len(batch), 500):
            chunk = batch[i:i + 500]
            alive = await meta.read(sb.known(tenant, [p.name for p in chunk]))
            for p in chunk:
                if p.name not in alive:
                    p.unlink(missing_ok=True)
                    removed += 1
    return removed


async def run_forever(meta: MetaStore, store: FsBlobStore, *, every: float = 3600.0) -> None:
    while True:
        try:
            n = await collect(meta, store)
            if n:
                log.info("blob gc removed %d files", n)
        except Exception:
            log.exception("blob gc failed")
        await asyncio.sleep(every)
