"""SQLite quick relaxed writes (store/sqlite/meta.py): a relaxed write of a kind that recently
took at most ``INLINE_WRITE_MAX`` commits on the event-loop thread, unless something this
process submitted to the writer thread is still pending (then it queues behind it, so writes
commit in submission order) or another writer holds the lock; a failing one rolls back alone;
the loop connection never checkpoints but asks the writer thread to."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from rongmail.errors import AlreadyExists
from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite import meta as sqlite_meta
from rongmail.store.sqlite.meta import SqliteMeta

#: far above a small insert's cost even on a loaded machine
LIMIT = 0.05


def make_table() -> Op[None]:
    yield Q("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "x INTEGER UNIQUE, pad BLOB)")


def insert(x: int, pad: bytes = b"") -> Op[int]:
    """Insert ``x``; returns the thread that ran the operation."""
    yield Q("INSERT INTO t (x, pad) VALUES (?, ?)", (x, pad))
    return threading.get_ident()


def slow_insert(x: int, seconds: float) -> Op[int]:
    yield Q("INSERT INTO t (x) VALUES (?)", (x,))
    time.sleep(seconds)
    return threading.get_ident()


def order() -> Op[list[int]]:
    rows = yield Q("SELECT x FROM t ORDER BY seq")
    return [int(r[0]) for r in rows]


async def _open(path: Path, **kw: object) -> SqliteMeta:
    m = SqliteMeta(path, **kw)  # type: ignore[arg-type]
    await m.open()
    await m.write(make_table())
    return m


@pytest.fixture
async def meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sqlite_meta, "INLINE_WRITE_MAX", LIMIT)
    m = await _open(tmp_path / "meta.sqlite3")
    yield m
    await m.close()


async def test_a_cheap_relaxed_kind_commits_on_the_loop_thread(meta: SqliteMeta) -> None:
    loop_thread = threading.get_ident()
    assert await meta.write(insert(1), durable=False) != loop_thread, (
        "a kind never seen runs on the writer thread (its cost is unknown)")
    assert await meta.write(insert(2), durable=False) == loop_thread
    assert await meta.write(insert(3)) != loop_thread, "a durable write never runs on the loop"
    assert await meta.read(order()) == [1, 2, 3]


async def test_a_relaxed_write_queues_behind_pending_writes(meta: SqliteMeta) -> None:
    """A durable write still in the writer thread: the relaxed write submitted after it must
    not commit first."""
    loop_thread = threading.get_ident()
    await meta.write(insert(1), durable=False)  # learn the kind
    await meta.write(slow_insert(0, 0), durable=False)
    slow = asyncio.ensure_future(meta.write(slow_insert(2, 0.2)))  # durable: writer thread
    await asyncio.sleep(0.05)  # it is running now
    ran_on = await meta.write(insert(3), durable=False)
    assert ran_on != loop_thread, "queued behind the pending write, not run on the loop"
    await slow
    assert await meta.read(order()) == [1, 0, 2, 3]
    assert await meta.write(insert(4), durable=False) == loop_thread, "inline again once idle"


async def test_a_slow_relaxed_kind_goes_back_to_the_writer(meta: SqliteMeta) -> None:
    loop_thread = threading.get_ident()
    await meta.write(slow_insert(1, 0), durable=False)
    assert await meta.write(slow_insert(2, 0), durable=False) == loop_thread
    await meta.write(slow_insert(3, 4 * LIMIT), durable=False)  # slow on the loop: measured
    assert await meta.write(slow_insert(4, 0), durable=False) != loop_thread


async def test_a_failing_inline_write_rolls_back_alone(meta: SqliteMeta) -> None:
    loop_thread = threading.get_ident()
    await meta.write(insert(1), durable=False)
    assert await meta.write(insert(2), durable=False) == loop_thread
    with pytest.raises(AlreadyExists):
        await meta.write(insert(2), durable=False)  # UNIQUE(x)
    assert await meta.write(insert(3), durable=False) == loop_thread
    assert await meta.read(order()) == [1, 2, 3]


async def test_inline_commits_ask_the_writer_for_a_checkpoint(
    meta: SqliteMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop connection's WAL hook replaces auto-checkpointing: past the threshold the
    writer thread runs a PASSIVE checkpoint, which copies the pages into the database file."""
    monkeypatch.setattr(sqlite_meta, "CHECKPOINT_PAGES", 8)
    loop_thread = threading.get_ident()
    await meta.write(insert(0), durable=False)
    db = Path(meta.path)
    before = db.stat().st_size
    pad = os.urandom(16 * 1024)
    ran_on = [await meta.write(insert(x, pad), durable=False) for x in range(1, 6)]
    assert ran_on[0] == loop_thread  # (a later one may meet the checkpoint's lock and queue)
    deadline = time.monotonic() + 10
    while db.stat().st_size < before + 5 * len(pad) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert db.stat().st_size >= before + 5 * len(pad), "the writer checkpointed the WAL"


async def test_another_process_holding_the_lock_sends_the_write_to_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``process_lock``: the inline path only tries the lock; the writer thread waits for it."""
    monkeypatch.setattr(sqlite_meta, "INLINE_WRITE_MAX", LIMIT)
    m = await _open(tmp_path / "meta.sqlite3", process_lock=True)
    try:
        loop_thread = threading.get_ident()
        await m.write(insert(1), durable=False)
        assert await m.write(insert(2), durable=False) == loop_thread
        fd = os.open(m.path + ".wlock", os.O_RDWR)  # another open file: another "process"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            pending = asyncio.ensure_future(m.write(insert(3), durable=False))
            await asyncio.sleep(0.2)
            assert not pending.done(), "the write waits for the other holder of the lock"
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        assert await asyncio.wait_for(pending, 10) != loop_thread
        assert await m.read(order()) == [1, 2, 3]
    finally:
        await m.close()
