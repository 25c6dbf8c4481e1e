"""Storage ports: the narrow interfaces every backend implements (DESIGN rule 8).

* :class:`MetaStore` runs sans-IO SQL operations (``store/sql``) — reads on a pool, writes in
  a transaction (group-committed on SQLite). ``write`` returns only after the transaction is
  durable (committed and fsynced).
* :class:`BlobStore` keeps message bytes, content-addressed and encrypted per tenant.

The contract suite in ``tests/storage`` runs against every implementation.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from rongmail.store.sql.q import Op

T = TypeVar("T")


class MetaStore(Protocol):
    dialect: str  # "sqlite" | "postgres"

    async def read(self, op: Op[T]) -> T: ...

    async def write(self, op: Op[T]) -> T: ...

    async def close(self) -> None: ...


class BlobStore(Protocol):
    async def put(self, tenant_id: int, data: bytes) -> str:
        """Store ``data``; return its id. Durable (fsynced) when it returns."""
        ...

    async def get(self, tenant_id: int, blob_id: str) -> bytes: ...

    async def delete(self, tenant_id: int, blob_id: str) -> None: ...

    async def exists(self, tenant_id: int, blob_id: str) -> bool: ...
