"""SQLite quick reads (store/sqlite/meta.py): a kind of read that recently took at most
``INLINE_READ_MAX`` runs on the event-loop thread; the first read of a kind, and every kind
that was just slow, runs on the reader pool; a loop-thread read sees committed writes and
fails like a pooled one; only one thread uses the loop connection."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import pytest

from rongmail.errors import AlreadyExists
from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite import meta as sqlite_meta
from rongmail.store.sqlite.meta import SqliteMeta

#: far above a point read's cost even on a loaded machine, so that what these tests check does
#: not depend on the machine's speed
LIMIT = 0.05


def where_and_count() -> Op[tuple[int, int]]:
    """A cheap point read: which thread ran it, and the row count of ``t``."""
    rows = yield Q("SELECT COUNT(*) FROM t")
    return threading.get_ident(), int(rows[0][0])


def sometimes_slow(seconds: float) -> Op[int]:
    """A read of a kind whose cost depends on its argument (a mailbox listing, say)."""
    yield Q("SELECT COUNT(*) FROM t")
    time.sleep(seconds)
    return threading.get_ident()


def failing_read() -> Op[None]:
    yield Q("SELECT * FROM no_such_table")


def make_table() -> Op[None]:
    yield Q("CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY)")


def insert(x: int) -> Op[None]:
    yield Q("INSERT INTO t (x) VALUES (?)", (x,))


@pytest.fixture
async def meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sqlite_meta, "INLINE_READ_MAX", LIMIT)
    m = SqliteMeta(tmp_path / "meta.sqlite3")
    await m.open()
    await m.write(make_table())
    yield m
    await m.close()


async def test_a_cheap_kind_moves_onto_the_loop_and_sees_commits(meta: SqliteMeta) -> None:
    loop_thread = threading.get_ident()
    first, n = await meta.read(where_and_count())
    assert first != loop_thread, "a kind never seen runs on the pool (its cost is unknown)"
    assert n == 0
    second, _ = await meta.read(where_and_count())
    assert second == loop_thread, "a kind measured cheap runs on the loop thread"
    await meta.write(insert(1))
    _, n = await meta.read(where_and_count())
    assert n == 1, "a loop-thread read starts a new read transaction: it sees the commit"


async def test_one_slow_read_sends_its_kind_back_to_the_pool(meta: SqliteMeta) -> None:
    loop_thread = threading.get_ident()
    await meta.read(sometimes_slow(0))
    assert await meta.read(sometimes_slow(0)) == loop_thread
    assert await meta.read(sometimes_slow(4 * LIMIT)) == loop_thread  # nothing could tell
    assert await meta.read(sometimes_slow(0)) != loop_thread, "one slow read: back to the pool"
    # cheap reads bring the figure down gradually, not at the first one
    ran_on: list[int] = []
    while len(ran_on) < 200 and loop_thread not in ran_on:
        ran_on.append(await meta.read(sometimes_slow(0)))
    assert ran_on[-1] == loop_thread, "after enough cheap reads the kind is quick again"
    assert len(ran_on) > 5, ran_on
    # another kind is unaffected by this kind's history
    await meta.read(where_and_count())
    assert (await meta.read(where_and_count()))[0] == loop_thread


async def test_a_loop_thread_read_fails_like_a_pooled_one(meta: SqliteMeta) -> None:
    for _ in range(2):  # the first on the pool, the second on the loop (its cost is known)
        with pytest.raises(Exception, match="no such table"):
            await meta.read(failing_read())
    # the loop connection is left outside a transaction: the next read and writes work
    assert (await meta.read(where_and_count()))[1] == 0
    await meta.write(insert(1))
    with pytest.raises(AlreadyExists):
        await meta.write(insert(1))
    assert (await meta.read(where_and_count()))[1] == 1


async def test_only_one_thread_uses_the_loop_connection(meta: SqliteMeta) -> None:
    """A second event loop in another thread (CLI helpers, tests) uses the pool."""
    await meta.read(where_and_count())
    loop_thread = threading.get_ident()
    assert (await meta.read(where_and_count()))[0] == loop_thread
    other: list[int] = []

    def run_other_loop() -> None:
        async def go() -> None:
            other.append((await meta.read(where_and_count()))[0])

        asyncio.run(go())

    t = threading.Thread(target=run_other_loop)
    t.start()
    t.join(10)
    assert other and other[0] not in (loop_thread, t.ident)


def waits(seconds: float) -> Op[int]:
    """A read that waits without using the CPU (as for the GIL, or a preempted thread)."""
    yield Q("SELECT COUNT(*) FROM t")
    time.sleep(seconds)
    return threading.get_ident()


def burns(seconds: float) -> Op[int]:
    """A read that uses the CPU for ``seconds``."""
    yield Q("SELECT COUNT(*) FROM t")
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return threading.get_ident()


async def test_a_read_is_judged_by_its_cpu_time_unless_it_stalled(
    meta: SqliteMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting shorter than INLINE_STALL (a GIL hand-over, a preemption) does not make a read
    slow; using the CPU does; waiting longer does (the disk, a lock)."""
    monkeypatch.setattr(sqlite_meta, "INLINE_READ_MAX", 0.001)
    monkeypatch.setattr(sqlite_meta, "INLINE_STALL", 0.1)
    loop_thread = threading.get_ident()
    await meta.read(waits(0))
    assert await meta.read(waits(0.01)) == loop_thread  # 10x the limit in wall time, no CPU
    assert await meta.read(waits(0)) == loop_thread, "a short wait is not a slow read"
    assert await meta.read(waits(0.3)) == loop_thread  # nothing could tell before
    assert await meta.read(waits(0)) != loop_thread, "a stall is: back to the pool"
    await meta.read(burns(0))
    await meta.read(burns(0))
    assert await meta.read(burns(0.01)) == loop_thread
    assert await meta.read(burns(0)) != loop_thread, "CPU time over the limit: the pool"


def collects() -> Op[int]:
    """A cheap read during which a full cyclic-collector pass runs (as when an allocation
    crosses the collector's threshold inside it)."""
    yield Q("SELECT COUNT(*) FROM t")
    gc.collect()
    return threading.get_ident()


async def test_a_collector_pass_inside_a_read_is_not_its_cost(
    meta: SqliteMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector's time (``core.heap.gc_seconds``) is taken off a read's cost: a pass that
    happens to run inside a point read does not send that read's kind to the pool.

    Judged by CPU time only (``INLINE_STALL`` out of reach): on a loaded machine the pool
    thread running the first read is preempted or waits for the interpreter lock, and a wall
    time past the stall limit would then be the read's cost whatever the collector did (the
    test failed so once in a full run on a clean clone)."""
    monkeypatch.setattr(sqlite_meta, "INLINE_READ_MAX", 0.002)
    monkeypatch.setattr(sqlite_meta, "INLINE_STALL", 10.0)
    live = [[] for _ in range(300_000)]  # a heap the collector takes milliseconds to walk
    t0 = time.thread_time()
    gc.collect()
    assert time.thread_time() - t0 > 0.004, "the pass must cost more than the limit"
    loop_thread = threading.get_ident()
    await meta.read(collects())
    assert await meta.read(collects()) == loop_thread
    assert await meta.read(collects()) == loop_thread, "the pass was counted as the read's cost"
    assert live


async def test_a_point_read_of_a_kind_slow_for_big_lists_stays_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Reader.message_parts`` says how many rows it reads, and reads are timed per size
    class: a cold FETCH batch of 512 rows that sends its size of ``message_parts`` to the
    pool leaves the one-message reads of ``FETCH n BODY[]`` on the event loop."""
    from rongmail.store import reader as reader_mod
    from rongmail.store.sql import mail as ml

    monkeypatch.setattr(sqlite_meta, "INLINE_READ_MAX", LIMIT)
    m = SqliteMeta(tmp_path / "meta.sqlite3")
    await m.open()
    try:
        r = reader_mod.Reader(m, None)  # type: ignore[arg-type]
        loop_thread = threading.get_ident()
        ran_on: list[int] = []
        real = m._run_read

        def spy(op, kind, conn=None):  # type: ignore[no-untyped-def]
            ran_on.append(threading.get_ident())
            return real(op, kind, conn)

        monkeypatch.setattr(m, "_run_read", spy)
        await r.message_parts(1, [5])  # first of its kind: pool, and timed
        assert await r.message_parts(1, [7]) == []
        assert ran_on[-1] == loop_thread, "one id: a cheap kind, on the loop"
        big = list(range(1, 600))
        m._read_cost[sqlite_meta._read_kind(ml.message_parts(1, big), len(big))] = 10.0
        await r.message_parts(1, big)
        assert ran_on[-1] != loop_thread, "a big list: its slow size class, on the pool"
        assert await r.message_parts(1, [9]) == []
        assert ran_on[-1] == loop_thread, "one id again: still the cheap kind, on the loop"
        await r.message_parts(1, list(range(1, 520)))  # the same size class as 599
        assert ran_on[-1] != loop_thread
        await r.mailbox_entries_of(1, [1, 2, 3])  # first of its kind: pool
        await r.mailbox_entries_of(1, [4, 5])
        assert ran_on[-1] == loop_thread, "entries of a change batch: sized too"
    finally:
        await m.close()


def test_read_kinds_are_the_op_and_the_size_class() -> None:
    """A read's kind is its op's code object, with the bit length of its row count when the
    caller gave one; an op that is not a generator has no kind (never timed)."""
    from rongmail.store.sql import mail as ml

    code = ml.message_parts.__code__
    kind = sqlite_meta._read_kind
    assert kind(ml.message_parts(1, [1]), None) is code
    assert [kind(ml.message_parts(1, []), n) for n in (0, 1, 2, 3, 4, 7, 8, 512, 1023)] == [
        (code, b) for b in (0, 1, 2, 2, 3, 3, 4, 10, 10)]
    assert kind(object(), 5) is None  # type: ignore[arg-type]
