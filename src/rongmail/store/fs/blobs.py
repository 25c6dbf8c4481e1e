"""Content-addressed, encrypted blob store on the local file system.

Layout: ``<root>/<tenant>/<id[0:2]>/<id[2:4]>/<id>``. The id is
HMAC-SHA256(tenant data key, plaintext) in hex: identical content within a tenant is stored once,
and ids reveal nothing about content to anyone without the key.

File format: ``b"RMB1"`` + key version (4 bytes, big endian) + nonce (12) + AES-256-GCM
ciphertext with tag; AAD is the blob id, so a file moved to another name fails to decrypt.

Durability: write to a temp file in the target directory, fsync, rename, fsync the directory;
``put`` returns only then. A full disk raises :class:`~rongmail.errors.StorageFull` and leaves
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


class FsBlobStore:
    """The :class:`~rongmail.store.ports.BlobStore` on a local directory."""

    def __init__(self, root: str | Path, keys: KeyRing, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.keys = keys
        self._fsync = fsync

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
        return await asyncio.to_thread(self.put_sync, tenant_id, data)

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
