"""Blob garbage collection.

A blob file (or a small body's ``blob_inline`` row, :mod:`rongmail.store.inline_blobs`) may be
deleted when no message references it: its ``blob_ref.refs`` dropped to 0,
or (after a crash between the blob write and the metadata commit) it has no ``blob_ref`` row at
all — and the outbound queue does not hold it either (``queue_message.blob_id``). Deduplicating
writers touch an existing file's mtime before committing, and GC only
deletes files untouched for ``grace`` seconds, so GC can never remove a blob that an append in
flight is about to reference (appends finish in seconds; the grace is an hour by default).

Every file-system walk and ``stat`` runs in a worker thread: a pass over a large store takes
seconds, and on the event loop it would stall every session of the process for that long.
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
from rongmail.store.sql.q import batches

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
        by_tenant = await asyncio.to_thread(_old_by_tenant, store, cands, grace, now)
        if not by_tenant:
            break
        for tenant, ids in by_tenant.items():
            await meta.write(sb.forget(tenant, ids))
            # a row revived between our read and write keeps its file: re-check
            alive = await meta.read(sb.known(tenant, ids))
            dead = [blob_id for blob_id in ids if blob_id not in alive]
            for blob_id in dead:
                await store.delete(tenant, blob_id)
                removed += 1
            # a small delivered body lives in blob_inline instead (store.inline_blobs); the
            # drop re-checks the references itself
            if dead:
                await meta.write(sb.drop_inline(tenant, dead), durable=False)
        if len(cands) < 1000:
            break
    removed += await _inline_orphans(meta)
    if scan_orphans:
        removed += await _orphans(meta, store, grace, now)
    return removed


async def _inline_orphans(meta: MetaStore) -> int:
    """``blob_inline`` rows left without a ``blob_ref`` row (a pass stopped between dropping
    the reference row and the data row); the drop re-checks every reference."""
    dropped = 0
    while cands := await meta.read(sb.orphan_inline()):
        by_tenant: dict[int, list[str]] = {}
        for tenant, blob_id in cands:
            by_tenant.setdefault(tenant, []).append(blob_id)
        n = 0
        for tenant, ids in by_tenant.items():
            n += await meta.write(sb.drop_inline(tenant, ids), durable=False)
        dropped += n
        if n == 0 or len(cands) < 1000:
            break
    return dropped


def _old_by_tenant(store: FsBlobStore, cands: list[tuple[int, str]], grace: float,
                   now: float) -> dict[int, list[str]]:
    """The candidates whose files are older than the grace period, by tenant (blocking)."""
    by_tenant: dict[int, list[str]] = {}
    for tenant, blob_id in cands:
        if _old(store._path(tenant, blob_id), grace, now):
            by_tenant.setdefault(tenant, []).append(blob_id)
    return by_tenant


def _tenant_dirs(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    return [(int(d.name), d) for d in root.iterdir() if d.name.isdigit()]


def _old_files(tenant_dir: Path, grace: float, now: float) -> list[Path]:
    """Blob files of one tenant older than the grace period; removes stale ``.tmp`` files of
    interrupted writes on the way (blocking: run in a thread)."""
    batch: list[Path] = []
    for p in tenant_dir.rglob("*"):
        if p.is_file() and len(p.name) == 64 and _old(p, grace, now):
            batch.append(p)
        elif p.is_file() and p.name.endswith(".tmp") and _old(p, grace, now):
            os.unlink(p)  # an interrupted write
    return batch


async def _orphans(meta: MetaStore, store: FsBlobStore, grace: float, now: float) -> int:
    removed = 0
    for tenant, tenant_dir in await asyncio.to_thread(_tenant_dirs, store.root):
        batch = await asyncio.to_thread(_old_files, tenant_dir, grace, now)
        for chunk in batches(batch):
            alive = await meta.read(sb.known(tenant, [p.name for p in chunk]))
            for p in chunk:
                if p.name not in alive:
                    p.unlink(missing_ok=True)
                    removed += 1
    return removed


async def run_forever(meta: MetaStore, store: FsBlobStore, *, every: float = 3600.0,
                      first: float = 300.0) -> None:
    """A pass every ``every`` seconds, the first ``first`` seconds after start (not while the
    server is starting and its caches are cold)."""
    await asyncio.sleep(first)
    while True:
        try:
            n = await collect(meta, store)
            if n:
                log.info("blob gc removed %d files", n)
        except Exception:
            log.exception("blob gc failed")
        await asyncio.sleep(every)
