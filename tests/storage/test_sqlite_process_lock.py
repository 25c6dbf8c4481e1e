"""``SqliteMeta(process_lock=True)`` (``[server] workers`` > 1): a write batch runs under an
exclusive ``flock`` on ``<db>.wlock``, so writers of several processes queue on the kernel
lock; every write of every process still commits."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite.meta import SqliteMeta


def insert(value: int) -> Op[None]:
    yield Q("INSERT INTO t (v) VALUES (?)", (value,))


def create() -> Op[None]:
    yield Q("CREATE TABLE t (v INTEGER)")


def count() -> Op[int]:
    rows = yield Q("SELECT COUNT(*) FROM t")
    return int(rows[0][0])


async def test_writes_wait_for_the_process_lock_and_all_commit(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite3"
    a = SqliteMeta(path, process_lock=True)
    b = SqliteMeta(path, process_lock=True)  # its own lock fd: behaves like another process
    await a.open()
    await b.open()
    try:
        await a.write(create())
        fd = os.open(str(path) + ".wlock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)  # "another process" is writing
        pending = asyncio.ensure_future(a.write(insert(0)))
        await asyncio.sleep(0.3)
        assert not pending.done(), "the write did not wait for the process lock"
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        await asyncio.wait_for(pending, 5)
        await asyncio.gather(*(m.write(insert(i)) for i in range(100) for m in (a, b)))
        assert await a.read(count()) == 201
    finally:
        await a.close()
        await b.close()
