"""SQLite metadata store: one writer thread with group commit, a pool of reader threads.

Invariants:

* All writes run on one dedicated thread. It takes every pending operation (up to
  ``batch_max``), runs each inside its own SAVEPOINT of one ``BEGIN IMMEDIATE`` transaction, and
  COMMITs once: concurrent writers share one fsync (group commit). An operation that raises is
  rolled back to its savepoint alone; the others commit.
* ``write`` resolves only after COMMIT returned (WAL, ``synchronous=FULL``: durable on disk).
  If COMMIT fails (disk full, I/O error) every operation of the batch fails and nothing of it is
  kept.
* Relaxed writes (``write(op, durable=False)``, flag changes): a batch made *only* of relaxed
  operations commits with ``synchronous=NORMAL`` — in WAL mode the frames are written to the
  WAL file (so they survive the death of this process) but not fsynced; the next FULL commit
  (or checkpoint) fsyncs the WAL and with it these frames. A batch with at least one durable
  operation commits FULL. The pragma is switched outside a transaction, only when the mode
  changes.
* Quick relaxed writes run on the event-loop thread: a relaxed write whose kind recently took
  at most :data:`INLINE_WRITE_MAX` of CPU commits on the loop thread's own writing connection
  (``synchronous=NORMAL``, so no fsync) when nothing this process submitted to the writer
  thread is still pending (``_pending``), so a process's writes still commit in the order
  they were submitted; otherwise, or when another writer (a thread's ``write_sync``, another
  process under ``process_lock``) holds the write lock, it joins the writer's queue like any
  write. A flag change of a busy IMAP session then completes without a thread hand-off and an
  event-loop round trip for the result: ``bench/imap_mixed.py`` measured relaxed writes at
  4.5 ms median and 37–61 ms p99 from submission to result while their batches ran 0.3 ms
  (median), the rest being the writer thread's wait for the GIL and the loop's round before
  the result was picked up. The loop connection never checkpoints (its WAL hook only asks the
  writer thread for a PASSIVE checkpoint past :data:`CHECKPOINT_PAGES`): a checkpoint fsyncs,
  and the loop must not wait on a disk.
* Reads run on a thread pool, one connection per thread (WAL readers never block the writer),
  except *quick* reads: a read whose kind (the op's generator function) recently took at most
  :data:`INLINE_READ_MAX` runs on the calling event-loop thread with its own connection, since
  the hand-off to a reader thread and back (two context switches and a GIL transfer) costs
  more CPU than a point lookup (measured, one IMAP client, server CPU per command, medians
  of 2 interleaved runs of 800: SELECT 0.39 → 0.27 ms, LOGOUT + LOGIN + SELECT 2.6 → 1.7 ms,
  FETCH n BODY[] 0.74 → 0.56 ms), and a read of a millisecond or two is mostly Python (the
  op's generator, rows made into objects) that holds the interpreter lock on the pool as
  well. Every read is timed; one
  slow read of a kind sends that kind back to the pool at once (a kind whose cost depends on
  its argument, such as a mailbox listing, moves to the pool as soon as a big case is seen).
  A caller that knows how many rows a read is for says so (``read(op, rows=n)``), and the
  kind is then the op's code object *and* the size class of ``n`` (its bit length): a cold
  ``FETCH 1:*`` batch of 512 rows does not send the one-row reads of ``FETCH n BODY[]`` of
  the same op to the pool (it did: every such fetch of a message not yet cached then waited
  for a pool thread and a loop round).
  A read's cost is the CPU time of the thread that ran it, unless it also waited longer than
  :data:`INLINE_STALL` (then its wall time): a read that gave up the GIL inside SQLite and
  waited to get it back, or whose thread was preempted, did not cost that wait, and the wait
  would not be shorter on the pool (one thread runs Python at a time either way); a read that
  waited on the disk or a lock for longer did block the loop. Timing by wall time alone sent
  half of the reads of 20 busy IMAP clients to the pool (``bench/imap_mixed.py``: 956 pool
  and 2,392 loop-thread reads for 3,000 operations, 71 of the 91 loop-thread reads over the
  limit under 0.2 ms of CPU). A cyclic collector pass that ran inside the read is not its
  cost (``core.heap.gc_seconds``): under the same load one pass in a 27-row change-log read
  (6.7 ms of CPU for a read that takes 0.1–0.2) sent the kind to the pool, where its reads
  waited 1–12 ms for a thread and the loop, with the ``SELECT`` listing lock held.
  The writer thread and COMMIT never run on the event loop; a loop-thread read waits at most
  :data:`INLINE_BUSY_MS` for a lock (WAL readers only wait during recovery) and then fails
  like any busy read.
* ``process_lock`` (``[server] workers`` > 1: several processes write the same file): the writer
  takes an exclusive ``flock(2)`` on ``<path>.wlock`` around each batch, so writers of other
  processes queue on the kernel lock and wake as soon as it is free, instead of SQLite's busy
  handler, which polls with sleeps of up to 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import apsw

from rongmail.core import heap
from rongmail.errors import AlreadyExists, MailError, StorageFull, TemporaryError
from rongmail.store.sql.migrations import migrations
from rongmail.store.sql.q import Op
from rongmail.store.sql.run import run_sync

T = TypeVar("T")
log = logging.getLogger(__name__)
_STOP = object()
_CHECKPOINT = object()

#: reads whose kind recently took at most this long (seconds) run on the event loop thread.
#: 0.5 ms until session 14, which sent every login's risk inputs (the account's grouped login
#: history, 0.5-0.9 ms of CPU) to the pool: each login then waited 2-2.5 ms for a pool thread
#: and the loop, and the pool thread's Python half of the read took the interpreter lock from
#: the loop anyway. ``bench/imap_mixed.py``, two interleaved pairs of full invocations
#: (``--runs 3 --idle 0``), 0.5 against 2 ms: closed loop 2.53 / 2.38x against 2.88 / 2.95x
#: Dovecot's ops/s, short commands' p50 1.6-1.8 against 1.1-1.4 ms, their p99 within the
#: noise (9.4-11.7 against 9.1-11.2 ms); paced at 1.5x Dovecot, 2.7% against 1.9% of sends
#: late and serve CPU 0.56-0.61 against 0.50-0.55 ms per operation.
INLINE_READ_MAX = 0.002
#: relaxed writes whose kind recently took at most this long (seconds of CPU) run on the event
#: loop thread when the writer thread has nothing pending (see the module docstring)
INLINE_WRITE_MAX = 0.001
#: WAL size (pages) past which an event-loop-thread commit asks the writer for a checkpoint
#: (SQLite's own auto-checkpoint default)
CHECKPOINT_PAGES = 1000
#: the event-loop-thread writing connection's busy timeout (milliseconds): the loop waits at
#: most this long for a lock held by a checkpoint or a process outside ``process_lock``,
#: then the write joins the writer's queue
INLINE_WRITE_BUSY_MS = 5
#: the event-loop-thread connection's busy timeout (milliseconds)
INLINE_BUSY_MS = 100
#: a read that waited longer than this (seconds, wall minus CPU time) is judged by its wall
#: time: longer than a GIL hand-over (the switch interval: CPython's 5 ms, 1 ms in a serving
#: process) or a preemption usually takes
INLINE_STALL = 0.005


def _connect(path: str, *, readonly: bool = False, busy_ms: int = 10_000) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else (
        apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
    conn = apsw.Connection(path, flags=flags)
    conn.setbusytimeout(busy_ms)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -32000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def _resolve_all(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """On the callers' event loop: settle each future of a committed (or failed) batch."""
    for fut, ok, value in items:
        if fut.done():  # the caller was cancelled meanwhile
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


def _clock() -> tuple[float, float, float]:
    """Now, for :func:`_cost`: wall time, this thread's CPU time, its time in the collector."""
    return time.perf_counter(), time.thread_time(), heap.gc_seconds()


def _cost(start: tuple[float, float, float], *, stall: bool = True) -> float:
    """What the operation begun at ``start`` cost this thread: its CPU time, or its wall time
    when it also waited longer than :data:`INLINE_STALL` (with ``stall``), less any cyclic
    collector pass that ran in it (``core.heap.gc_seconds``): a pass is triggered by whatever
    allocation crosses the threshold, and one that started inside a 0.1 ms read made that
    read's kind look like a 5 ms one and sent it to the pool for its next ~20 runs."""
    w0, c0, g0 = start
    wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
    took = wall if stall and wall - cpu > INLINE_STALL else cpu
    return max(took - (heap.gc_seconds() - g0), 0.0)


def _read_kind(op: Op[Any], rows: int | None) -> object:
    """What a read's recent cost is kept under: the op's code object (one per op function),
    with the size class of ``rows`` (its bit length: 1, 2–3, 4–7, … rows) when the caller
    gave it. ``None`` for an op that is not a generator (it is then never timed)."""
    code = getattr(op, "gi_code", None)
    if code is None or rows is None:
        return code
    return code, max(rows, 0).bit_length()


def _translate(e: BaseException) -> BaseException:
    if isinstance(e, MailError):
        return e
    if isinstance(e, apsw.FullError):
        return StorageFull(detail=str(e))
    if isinstance(e, apsw.ConstraintError):
        return AlreadyExists(what="record", detail=str(e))
    if isinstance(e, (apsw.BusyError, apsw.LockedError)):
        return TemporaryError(detail=str(e))
    if isinstance(e, apsw.IOError) and "full" in str(e).lower():
        return StorageFull(detail=str(e))
    return e


class SqliteMeta:
    """The :class:`~rongmail.store.ports.MetaStore` on SQLite."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, readers: int = 4, batch_max: int = 512,
                 process_lock: bool = False) -> None:
        self.path = str(path)
        self._process_lock = process_lock
        self._lock_fd: int | None = None
        self._batch_max = batch_max
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._conns: list[apsw.Connection] = []
        self._lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="rm-read")
        self._writer: threading.Thread | None = None
        self._wconn: apsw.Connection | None = None
        self._relaxed = False  # the writer connection's mode: synchronous=NORMAL, not FULL
        #: recent cost (seconds) of each kind of read (:func:`_read_kind`); see read()
        self._read_cost: dict[object, float] = {}
        self._inline_conn: apsw.Connection | None = None
        self._inline_thread: int | None = None
        #: recent CPU cost (seconds) of each kind of write, by the op's code object
        self._write_cost: dict[object, float] = {}
        #: writes submitted to the writer thread and not yet settled (guarded by _plock)
        self._pending = 0
        self._plock = threading.Lock()
        #: held by whoever writes: the writer thread around a batch, the loop thread around an
        #: inline write (so the two never meet in SQLite's busy handler)
        self._wlock = threading.Lock()
        self._inline_wconn: apsw.Connection | None = None
        self._checkpoint_asked = False

    # -- lifecycle ---------------------------------------------------------------------------
    def open_sync(self) -> None:
        """Open, migrate and start the writer thread (safe to call from any thread)."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._wconn = _connect(self.path)
        if self._process_lock:
            self._lock_fd = os.open(self.path + ".wlock", os.O_RDWR | os.O_CREAT, 0o600)
        self._migrate(self._wconn)
        self._writer = threading.Thread(target=self._write_loop, name="rm-write", daemon=True)
        self._writer.start()

    async def open(self) -> None:
        await asyncio.to_thread(self.open_sync)

    async def close(self) -> None:
        if self._writer is not None:
            self._q.put(_STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._readers.shutdown(wait=True)
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(Exception):
                    c.close()
            self._conns.clear()
        self._inline_conn = None
        self._inline_thread = None
        self._inline_wconn = None

    def _migrate(self, conn: apsw.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT)")
        done = {r[0] for r in conn.execute("SELECT version FROM schema_version")}
        for m in migrations("sqlite"):
            if m.version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in m.statements:
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (m.version, m.name))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            log.info("applied migration %s", m.name)

    # -- reads -------------------------------------------------------------------------------
    def _reader_conn(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _run_read(self, op: Op[T], kind: object, conn: apsw.Connection | None = None) -> T:
        conn = conn if conn is not None else self._reader_conn()
        start = _clock()
        conn.execute("BEGIN")
        try:
            return run_sync(conn, op)
        except BaseException as e:
            raise _translate(e) from e
        finally:
            conn.execute("COMMIT")
            if kind is not None:
                self._note_cost(self._read_cost, kind, _cost(start))

    @staticmethod
    def _note_cost(costs: dict[object, float], kind: object, took: float) -> None:
        """Remember what an operation of this kind (a read or a relaxed write) cost: a dearer
        one counts at once, cheaper ones bring the figure down by an eighth of the difference
        (a kind that was 40 times over the limit becomes quick again after about 30 cheap runs
        off the loop; one expensive run takes it off the loop at once)."""
        if kind is None:
            return
        prev = costs.get(kind)
        costs[kind] = took if prev is None or took >= prev else prev * 0.875 + took * 0.125

    def _loop_conn(self) -> apsw.Connection:
        """The event loop thread's own read connection (short busy timeout)."""
        conn = self._inline_conn
        if conn is None:
            conn = self._inline_conn = _connect(self.path, busy_ms=INLINE_BUSY_MS)
            self._inline_thread = threading.get_ident()
            with self._lock:
                self._conns.append(conn)
        return conn

    async def read(self, op: Op[T], *, rows: int | None = None) -> T:
        kind = _read_kind(op, rows)
        cost = self._read_cost.get(kind)
        if (cost is not None and cost <= INLINE_READ_MAX
                and self._inline_thread in (None, threading.get_ident())):
            return self._run_read(op, kind, self._loop_conn())
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, op, kind)

    def read_sync(self, op: Op[T]) -> T:
        """For CLI tools and worker threads only (never on the event loop)."""
        return self._run_read(op, _read_kind(op, None))

    # -- writes ------------------------------------------------------------------------------
    async def write(self, op: Op[T], *, durable: bool = True) -> T:
        if not durable:
            cost = self._write_cost.get(getattr(op, "gi_code", None))
            if (cost is not None and cost <= INLINE_WRITE_MAX
                    and self._inline_thread in (None, threading.get_ident())):
                done, value = self._write_inline(op)
                if done:
                    return value  # type: ignore[return-value]
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._submit((op, fut, loop, durable))
        return await fut

    def _submit(self, item: tuple[Any, Any, Any, bool]) -> None:
        with self._plock:
            self._pending += 1
        self._q.put(item)

    def _inline_wconn_get(self) -> apsw.Connection:
        conn = self._inline_wconn
        if conn is None:
            conn = _connect(self.path, busy_ms=INLINE_WRITE_BUSY_MS)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.setwalhook(self._wal_hook)  # replaces (so disables) auto-checkpoint
            self._inline_thread = threading.get_ident()
            self._inline_wconn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _wal_hook(self, _conn: apsw.Connection, _db: str, pages: int) -> int:
        """After a loop-thread commit: past :data:`CHECKPOINT_PAGES`, ask the writer thread
        for a PASSIVE checkpoint (once until it ran). Returns SQLITE_OK."""
        if pages >= CHECKPOINT_PAGES and not self._checkpoint_asked:
            self._checkpoint_asked = True
            self._q.put(_CHECKPOINT)
        return apsw.SQLITE_OK

    def _write_inline(self, op: Op[T]) -> tuple[bool, T | None]:
        """Run a relaxed write on this (event-loop) thread if no write of this process is
        pending and the write lock is free at once. ``(False, None)``: not run, queue it."""
        if not self._wlock.acquire(blocking=False):
            return False, None
        try:
            with self._plock:
                if self._pending:
                    return False, None
            if self._lock_fd is None:
                return self._commit_inline(op)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process is writing
                return False, None
            try:
                return self._commit_inline(op)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._wlock.release()

    def _commit_inline(self, op: Op[T]) -> tuple[bool, T | None]:
        """One transaction of ``op`` on the loop thread's writing connection (locks held)."""
        conn = self._inline_wconn_get()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except apsw.BusyError:  # a checkpoint or a writer outside ``process_lock``
            return False, None
        start = _clock()
        try:
            value = run_sync(conn, op)
            conn.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
            err = _translate(e)
            if err is e:
                raise
            if not isinstance(err, MailError):
                log.exception("write operation failed")
            raise err from e
        finally:
            self._note_cost(self._write_cost, getattr(op, "gi_code", None), _cost(start))
        return True, value

    def write_sync(self, op: Op[T], *, durable: bool = True) -> T:
        """Blocking write from a non-event-loop thread (CLI import, workers)."""
        done = threading.Event()
        box: dict[str, Any] = {}
        self._submit((op, box, done, durable))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def _write_loop(self) -> None:
        conn = self._wconn
        assert conn is not None
        while True:
            first = self._q.get()
            if first is _STOP:
                conn.close()
                return
            batch = []
            stop = checkpoint = False
            item = first
            while True:
                if item is _STOP:
                    stop = True
                    break
                if item is _CHECKPOINT:
                    checkpoint = True
                else:
                    batch.append(item)
                if len(batch) >= self._batch_max:
                    break
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                # the locks are released and the batch no longer pending BEFORE its callers
                # hear of it, so the write a caller submits next can commit on its loop
                results: list[tuple[bool, Any]] = []
                with self._wlock:
                    try:
                        if self._lock_fd is None:
                            results = self._run_batch(conn, batch)
                        else:
                            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                            try:
                                results = self._run_batch(conn, batch)
                            finally:
                                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    finally:
                        with self._plock:
                            self._pending -= len(batch)
                self._settle(batch, results)
            if checkpoint:
                self._checkpoint_asked = False
                with contextlib.suppress(apsw.Error):
                    conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
            if stop:
                conn.close()
                return

    def _run_batch(self, conn: apsw.Connection, batch: list[Any]) -> list[tuple[bool, Any]]:
        """Commit ``batch`` in one transaction; the results, for :meth:`_settle`."""
        results: list[tuple[bool, Any]] = []
        try:
            self._set_sync(conn, relaxed=not any(item[3] for item in batch))
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as e:  # cannot even start: fail all
            return [(False, _translate(e))] * len(batch)
        for i, (op, _, _, durable) in enumerate(batch):
            sp = f"s{i}"
            conn.execute(f"SAVEPOINT {sp}")
            start = _clock()
            try:
                value = run_sync(conn, op)
                conn.execute(f"RELEASE {sp}")
                results.append((True, value))
                if not durable:
                    self._note_cost(self._write_cost, getattr(op, "gi_code", None),
                                    _cost(start, stall=False))
            except BaseException as e:
                err = _translate(e)
                try:
                    conn.execute(f"ROLLBACK TO {sp}")
                    conn.execute(f"RELEASE {sp}")
                except apsw.Error:
                    pass
                if not isinstance(err, MailError):
                    log.exception("write operation failed")
                results.append((False, err))
        try:
            conn.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
            err = _translate(e)
            results = [(False, err)] * len(batch)
        return results

    def _set_sync(self, conn: apsw.Connection, *, relaxed: bool) -> None:
        """``synchronous=NORMAL`` for an all-relaxed batch, ``FULL`` otherwise (writer thread
        only, outside a transaction; a no-op when the mode is already right)."""
        if relaxed != self._relaxed:
            conn.execute("PRAGMA synchronous = NORMAL" if relaxed else "PRAGMA synchronous = FULL")
            self._relaxed = relaxed

    @staticmethod
    def _settle(batch: list[Any], results: list[tuple[bool, Any]]) -> None:
        """Hand each result to its caller: a ``write_sync`` caller's event, and for ``write``
        callers ONE ``call_soon_threadsafe`` per event loop for the whole batch (each call
        writes to the loop's self-pipe; a group commit of 20 would otherwise wake it 20
        times)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        by_loop = {}
        for (_, target, extra, _), (ok, value) in zip(batch, results, strict=True):
            if isinstance(target, dict):  # write_sync
                target["value" if ok else "error"] = value
                extra.set()
                continue
            by_loop.setdefault(extra, []).append((target, ok, value))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, items)
            except RuntimeError:  # loop closed: the callers are gone
                pass
