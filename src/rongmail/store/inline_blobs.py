"""The blob store of a node: small message bodies in the metadata store, the rest in files.

A message of at most ``inline_max`` bytes (``[storage] inline_blob_max``) that is delivered,
appended (IMAP APPEND, MULTIAPPEND, JMAP Email/import) or bulk-imported keeps its sealed bytes
— the blob file format, encrypted with the tenant's data key, under the same content id — in
``blob_inline`` (migration 0101). The action puts them in its record
(``NewMessage.blob_data``, from :meth:`InlineBlobStore.seal_inline`) and
:func:`rongmail.store.sql.mail.append_message` stores them next to the ``blob_ref`` row, in the
same transaction. The message is then durable after ONE flush, the metadata commit, instead
of a blob flush (``syncfs``) followed by the commit: measured with ``smtp-source``, one session
sends about 1.5 times as many messages per second, and the per-message work of a file (create,
rename, directory entry, journal) is gone.

:meth:`InlineBlobStore.put` (JMAP blob uploads, the outbound queue, quarantine) and every body
larger than ``inline_max`` still go to :class:`~rongmail.store.fs.blobs.FsBlobStore`, durable
when ``put`` returns, as before.

Invariants:

* A ``blob_inline`` row is only written in a transaction that also commits the ``blob_ref``
  row referencing it; it is dropped only by a statement that checks, atomically, that nothing
  references it (:func:`rongmail.store.sql.blobs.drop_inline`). So no grace period is needed,
  unlike a file, which is written before the commit that references it.
* Reads look in ``blob_inline`` first for sizes up to ``inline_max`` (one indexed read on the
  event loop's own SQLite connection), then in the files: a body stored before this existed,
  or by a path that writes files, is still found. Larger sizes go straight to the files.
* The same content under one tenant has one id wherever it is stored; GC deletes both.
"""

from __future__ import annotations

from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.ports import MetaStore
from rongmail.store.sql import blobs as sb


class InlineBlobStore:
    """:class:`~rongmail.store.ports.BlobStore` over the metadata store and a file store."""

    def __init__(self, files: FsBlobStore, meta: MetaStore, *, inline_max: int) -> None:
        self.files = files
        self.meta = meta
        self.inline_max = inline_max

    # -- writes --------------------------------------------------------------------------------

    def seal_inline(self, tenant_id: int, data: bytes) -> tuple[str, bytes] | None:
        """``(blob id, sealed bytes)`` for a body small enough to be stored by the caller's
        transaction (:func:`rongmail.store.sql.blobs.put_inline`), else None (use :meth:`put`
        before that transaction). CPU only: HMAC-SHA256 and AES-GCM of the body."""
        if len(data) > self.inline_max:
            return None
        return self.files.seal(tenant_id, data)

    async def put(self, tenant_id: int, data: bytes) -> str:
        return await self.files.put(tenant_id, data)

    def put_sync(self, tenant_id: int, data: bytes, *, fsync: bool | None = None) -> str:
        """Bulk import's file write (:mod:`rongmail.actions.importing`)."""
        return self.files.put_sync(tenant_id, data, fsync=fsync)

    async def delete(self, tenant_id: int, blob_id: str) -> None:
        """Remove the file and, when nothing references it, the ``blob_inline`` row."""
        await self.files.delete(tenant_id, blob_id)
        await self.meta.write(sb.drop_inline(tenant_id, [blob_id]), durable=False)

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, tenant_id: int, blob_id: str) -> bytes:
        raw = await self.meta.read(sb.get_inline(tenant_id, blob_id))
        if raw is not None:
            return self.files.unseal(tenant_id, blob_id, raw)
        return await self.files.get(tenant_id, blob_id)

    async def get_small(self, tenant_id: int, blob_id: str, size: int) -> bytes:
        """A body known to be at most a few tens of kilobytes (``size``, its RFC822.SIZE),
        read without a thread hand-off: the row, else the file, on the caller's thread."""
        if size <= self.inline_max:
            raw = await self.meta.read(sb.get_inline(tenant_id, blob_id))
            if raw is not None:
                return self.files.unseal(tenant_id, blob_id, raw)
        return self.files.get_sync(tenant_id, blob_id)

    async def exists(self, tenant_id: int, blob_id: str) -> bool:
        if await self.meta.read(sb.get_inline(tenant_id, blob_id)) is not None:
            return True
        return await self.files.exists(tenant_id, blob_id)
