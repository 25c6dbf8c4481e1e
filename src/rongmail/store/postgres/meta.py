"""PostgreSQL metadata store on asyncpg.

Each write op runs in its own transaction on a pooled connection; PostgreSQL's own WAL and
``commit_delay`` provide group commit; a relaxed write (``durable=False``) turns
``synchronous_commit`` off for its own transaction only. Per-account serialisation comes from the row lock taken by
``bump`` (``UPDATE account ... RETURNING modseq``). Unique violations from races map to
:class:`~rongmail.errors.AlreadyExists`. Migrations take an advisory lock so several nodes may
start at once.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import asyncpg

from rongmail.errors import AlreadyExists, MailError, StorageFull, TemporaryError
from rongmail.store.sql.migrations import migrations
from rongmail.store.sql.q import Op
from rongmail.store.sql.run import run_async

T = TypeVar("T")
log = logging.getLogger(__name__)
_LOCK_KEY = 0x526F6E67  # "Rong"


def _translate(e: BaseException) -> BaseException:
    if isinstance(e, MailError):
        return e
    if isinstance(e, asyncpg.UniqueViolationError):
        return AlreadyExists(what="record", detail=str(e))
    if isinstance(e, asyncpg.DiskFullError):
        return StorageFull(detail=str(e))
    if isinstance(e, (asyncpg.DeadlockDetectedError, asyncpg.SerializationError,
                      asyncpg.TooManyConnectionsError, OSError)):
        return TemporaryError(detail=str(e))
    return e


class PostgresMeta:
    """The :class:`~rongmail.store.ports.MetaStore` on PostgreSQL."""

    dialect = "postgres"

    def __init__(self, dsn: str, *, schema: str | None = None, min_size: int = 2,
                 max_size: int = 20) -> None:
        self.dsn = dsn
        self.schema = schema
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        settings = {"search_path": self.schema} if self.schema else None
        if self.schema:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=self._min, max_size=self._max, server_settings=settings)
        async with self._pool.acquire() as conn:
            await self._migrate(conn)

    async def _migrate(self, conn: Any) -> None:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                " name TEXT)")
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_version")}
            for m in migrations("postgres"):
                if m.version in done:
                    continue
                async with conn.transaction():
                    for stmt in m.statements:
                        await conn.execute(stmt)
                    await conn.execute("INSERT INTO schema_version VALUES ($1, $2)",
                                       m.version, m.name)
                log.info("applied migration %s", m.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def read(self, op: Op[T], *, rows: int | None = None) -> T:
        """``rows`` is only a scheduling hint for SQLite's loop-thread reads; unused here."""
        assert self._pool is not None, "store not opened"
        try:
            async with self._pool.acquire() as conn, conn.transaction(readonly=True):
                return await run_async(conn, op)
        except BaseException as e:
            raise _translate(e) from e

    async def write(self, op: Op[T], *, durable: bool = True) -> T:
        """Run ``op`` in one transaction. ``durable=False``: the commit does not wait for the
        WAL flush (``SET LOCAL synchronous_commit TO OFF``, this transaction only) — see the
        contract in :class:`~rongmail.store.ports.MetaStore`."""
        assert self._pool is not None, "store not opened"
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                if not durable:
                    await conn.execute("SET LOCAL synchronous_commit TO OFF")
                return await run_async(conn, op)
        except BaseException as e:
            raise _translate(e) from e

    async def drop_schema(self) -> None:
        """Tests only: remove this store's schema."""
        if self.schema and self._pool is not None:
            async with self._pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
