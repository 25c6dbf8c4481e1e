"""Content-addressed, encrypted blob store on the local file system.

Layout: ``<root>/<tenant>/<id[0:2]>/<id[2:4]>/<id>``. The id is
HMAC-SHA256(tenant data key, plaintext) in hex: identical content within a tenant is stored once,
and ids reveal nothing about content to anyone without the key.

File format: ``b"RMB1"`` + key version (4 bytes, big endian) + nonce (12) + AES-256-GCM
ciphertext with tag; AAD is the blob id, so a file moved to another name fails to decrypt.

Durability: write to a temp file in the target directory, rename, then make it durable; ``put``
returns only then. Concurrent ``put`` calls share the flush (group sync, like the metadata
store's group commit): the first waiter runs one ``syncfs(2)`` of the blob file system, which
commits every file and directory entry written before it; writers that arrive meanwhile wait
for the next round. Where ``syncfs`` is unavailable each file and its directory are fsynced. A full disk raises :class:`~rongmail.errors.StorageFull` and leaves
no partial file. All file I/O runs off the event loop.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rongmail.errors import InternalError, NotFound, StorageFull
from rongmail.store.fs.keys import KeyRing

MAGIC = b"RMB1"


def _load_syncfs() -> object | None:
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.syncfs
        fn.argtypes = [ctypes.c_int]
        return fn
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


class _GroupSync:
    """Coalesces durability requests: one flush serves every writer that finished writing
    before it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._waiting: list[tuple[asyncio.Future[None], list[Path]]] = []
        self._task: asyncio.Task[None] | None = None

    async def sync(self, paths: list[Path]) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiting.append((fut, paths))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        await fut

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self._flush, [p for _, ps in batch for p in ps])
            except BaseException as e:  # noqa: BLE001 - handed to every waiter
                err = StorageFull(detail=str(e)) if isinstance(e, OSError) and e.errno in (
                    errno.ENOSPC, errno.EDQUOT) else e
                for fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for fut, _ in batch:
                if not fut.done():
                    fut.set_result(None)

    def _flush(self, paths: list[Path]) -> None:
        if _SYNCFS is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:  # type: ignore[operator]
                    return
            finally:
                os.close(fd)
        dirs = set()
        for p in paths:
            _fsync_path(p)
            dirs.add(p.parent)
        for d in dirs:
            _fsync_path(d)


def _fsync_path(p: Path) -> None:
    try:
        fd = os.open(p, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsBlobStore:
    """The :class:`~rongmail.store.ports.BlobStore` on a local directory."""

    def __init__(self, root: str | Path, keys: KeyRing, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.keys = keys
        self._fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)
        self._group = _GroupSync(self.root)

    def blob_id(self, tenant_id: int, data: bytes) -> str:
        _, key = self.keys.current(tenant_id)
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def _path(self, tenant_id: int, blob_id: str) -> Path:
        if len(blob_id) != 64 or not all(c in "0123456789abcdef" for c in blob_id):
            raise NotFound(what="blob")
        return self.root / str(tenant_id) / blob_id[:2] / blob_id[2:4] / blob_id

    def put_sync(self, tenant_id: int, data: bytes, *, fsync: bool | None = None) -> str:
        """Write a blob; ``fsync=False`` defers durability to the caller (bulk import
        calls ``os.sync()`` once per batch before committing metadata)."""
        do_sync = self._fsync if fsync is None else fsync
        version, key = self.keys.current(tenant_id)
        bid = hmac.new(key, data, hashlib.sha256).hexdigest()
        path = self._path(tenant_id, bid)
        if path.exists():
            try:
                os.utime(path)  # tells GC this blob is about to be referenced again
                return bid
            except FileNotFoundError:
                pass  # collected just now: write it again
        nonce = secrets.token_bytes(12)
        payload = MAGIC + version.to_bytes(4, "big") + nonce + AESGCM(key).encrypt(
            nonce, data, bid.encode())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{bid}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(payload)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                if do_sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            if do_sync:
                dfd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        except OSError as e:
            try:
                tmp.unlink()
            except OSError:
                pass
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(detail=str(e)) from e
            raise
        return bid

    def get_sync(self, tenant_id: int, blob_id: str) -> bytes:
        path = self._path(tenant_id, blob_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as e:
            raise NotFound(what="blob") from e
        if raw[:4] != MAGIC:
            raise InternalError(detail=f"blob {blob_id}: bad magic")
        version = int.from_bytes(raw[4:8], "big")
        try:
            key = self.keys.get(tenant_id, version)
            return AESGCM(key).decrypt(raw[8:20], raw[20:], blob_id.encode())
        except (KeyError, InvalidTag) as e:
            raise InternalError(detail=f"blob {blob_id}: cannot decrypt") from e

    async def put(self, tenant_id: int, data: bytes) -> str:
        bid = await asyncio.to_thread(self.put_sync, tenant_id, data, fsync=False)
        if self._fsync:
            # also for a deduplicated blob: its first writer may still be waiting for its flush
            await self._group.sync([self._path(tenant_id, bid)])
        return bid

    async def get(self, tenant_id: int, blob_id: str) -> bytes:
        return await asyncio.to_thread(self.get_sync, tenant_id, blob_id)

    async def delete(self, tenant_id: int, blob_id: str) -> None:
        def _rm() -> None:
            try:
                self._path(tenant_id, blob_id).unlink()
            except FileNotFoundError:
                pass

        await asyncio.to_thread(_rm)

    async def exists(self, tenant_id: int, blob_id: str) -> bool:
        return await asyncio.to_thread(self._path(tenant_id, blob_id).exists)
