"""Storage ports: the narrow interfaces every backend implements (DESIGN rule 8).

* :class:`MetaStore` runs sans-IO SQL operations (``store/sql``) — reads on a pool, writes in
  a transaction (group-committed on SQLite). ``write`` returns only after the transaction is
  durable (committed and fsynced), unless the caller passes ``durable=False`` (below).
* :class:`BlobStore` keeps message bytes, content-addressed and encrypted per tenant.

The contract suite in ``tests/storage`` runs against every implementation.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from rongmail.store.sql.q import Op

T = TypeVar("T")


class MetaStore(Protocol):
    """Runs SQL operations: ``read`` in a read-only snapshot, ``write`` in one transaction.

    Durability contract of ``write(op, durable=...)``:

    * ``durable=True`` (the default): when ``write`` returns, the transaction is committed and
      on stable storage — it survives a crash of the application *and* of the operating
      system or machine (power loss). Everything that creates or removes mail (delivery,
      APPEND, COPY/MOVE, EXPUNGE, account changes) uses it.
    * ``durable=False`` (relaxed; flag and keyword changes only): when ``write`` returns, the
      transaction is committed — visible to every reader, atomic, and kept if the application
      process dies (SIGKILL included) — but it may not be fsynced yet, so an operating-system
      crash or power loss may lose it (the store reopens consistent, as of an earlier commit).
      The next durable commit makes it durable too. This is Dovecot's ``mail_fsync=optimized``
      trade-off for index/flag updates. SQLite: commit with ``synchronous=NORMAL`` (WAL frames
      written, not fsynced); a group-commit batch that mixes durable and relaxed operations
      commits durably. PostgreSQL: ``SET LOCAL synchronous_commit TO OFF``.
    """

    dialect: str  # "sqlite" | "postgres"

    async def read(self, op: Op[T], *, rows: int | None = None) -> T:
        """Run ``op`` in one read-only snapshot. ``rows``: how many rows the read is for, when
        the caller knows it (a hint the store may use to schedule the read, never a limit)."""
        ...

    async def write(self, op: Op[T], *, durable: bool = True) -> T: ...

    async def close(self) -> None: ...


class BlobStore(Protocol):
    async def put(self, tenant_id: int, data: bytes) -> str:
        """Store ``data``; return its id. Durable (fsynced) when it returns."""
        ...

    async def get(self, tenant_id: int, blob_id: str) -> bytes: ...

    async def delete(self, tenant_id: int, blob_id: str) -> None: ...

    async def exists(self, tenant_id: int, blob_id: str) -> bool: ...
