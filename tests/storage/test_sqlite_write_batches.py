"""SQLite group commit (store/sqlite/meta.py): an operation that fails leaves nothing of itself,
whether it ran alone in its transaction (no savepoint) or with others (its own savepoint), and
the operations batched with it commit."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from rongmail.errors import AlreadyExists
from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite.meta import SqliteMeta


def create() -> Op[None]:
    yield Q("CREATE TABLE t (v INTEGER PRIMARY KEY)")


def insert(*values: int) -> Op[None]:
    """Insert each value in turn: a duplicate fails the operation after the others went in."""
    for v in values:
        yield Q("INSERT INTO t (v) VALUES (?)", (v,))


def stored() -> Op[list[int]]:
    rows = yield Q("SELECT v FROM t ORDER BY v")
    return [int(r[0]) for r in rows]


@pytest.fixture
async def meta(tmp_path: Path):  # type: ignore[no-untyped-def]
    m = SqliteMeta(tmp_path / "meta.sqlite3", process_lock=True)
    await m.open()
    await m.write(create())
    yield m
    await m.close()


async def test_a_failing_operation_alone_leaves_nothing(meta: SqliteMeta) -> None:
    await meta.write(insert(1))
    with pytest.raises(AlreadyExists):
        await meta.write(insert(2, 3, 1))  # 2 and 3 go in, then 1 fails
    assert await meta.read(stored()) == [1]
    await meta.write(insert(4))  # the connection is usable: no transaction left open
    assert await meta.read(stored()) == [1, 4]


async def test_a_failing_operation_in_a_batch_leaves_nothing_and_the_others_commit(
    meta: SqliteMeta, tmp_path: Path
) -> None:
    await meta.write(insert(1))
    # hold the writer on the process lock so that the next writes queue up and form one batch
    fd = os.open(str(tmp_path / "meta.sqlite3") + ".wlock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        first = asyncio.ensure_future(meta.write(insert(10)))
        await asyncio.sleep(0.2)  # the writer took it and waits for the lock
        rest = [asyncio.ensure_future(meta.write(op))
                for op in (insert(20), insert(30, 31, 1), insert(40))]
        await asyncio.sleep(0.2)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    await first
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], AlreadyExists)
    assert await meta.read(stored()) == [1, 10, 20, 40]
