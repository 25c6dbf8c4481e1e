"""Synchronous and asynchronous interpreters for sans-IO operations (``q.py``).

``run_sync`` serves DB-API-like connections (apsw); ``run_async`` serves asyncpg connections.
They are the only code that executes operation SQL.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rongmail.store.sql.q import Op, Q, QMany, to_pg

T = TypeVar("T")


def run_sync(conn: Any, op: Op[T]) -> T:
    """Run ``op`` on an apsw connection (SQLite dialect)."""
    try:
        req = next(op)
        while True:
            if isinstance(req, Q):
                rows = list(conn.execute(req.sql, tuple(req.params))) if req.sql else []
            else:
                if req.sql and req.rows:
                    conn.executemany(req.sql, [tuple(r) for r in req.rows])
                rows = []
            req = op.send(rows)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(conn: Any, op: Op[T]) -> T:
    """Run ``op`` on an asyncpg connection (PostgreSQL dialect)."""
    try:
        req = next(op)
        while True:
            if isinstance(req, Q):
                sql = to_pg(req.pg if req.pg is not None else req.sql)
                params = req.pg_params if req.pg_params is not None else req.params
                rows = [tuple(r) for r in await conn.fetch(sql, *params)] if sql else []
            else:
                assert isinstance(req, QMany)
                sql = to_pg(req.pg if req.pg is not None else req.sql)
                if sql and req.rows:
                    await conn.executemany(sql, [tuple(r) for r in req.rows])
                rows = []
            req = op.send(rows)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
