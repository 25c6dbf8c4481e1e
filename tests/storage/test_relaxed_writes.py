"""Relaxed writes (``MetaStore.write(op, durable=False)``, store/ports.py): flag changes commit
without waiting for an fsync.

* On every backend: a relaxed write is committed and visible to readers when it returns, runs
  without the synchronous flush (SQLite ``synchronous=NORMAL``, PostgreSQL
  ``synchronous_commit=off``) while durable writes keep it, and the flag actions use it.
* SQLite: a group-commit batch that mixes relaxed and durable operations commits FULL; a
  relaxed-only commit issues no fsync, a durable one does (counted with a VFS shim); a
  relaxed write that returned survives SIGKILL of the writing process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import apsw
import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import messages as msg
from rongmail.core import flags as fl
from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite import meta as sqlite_meta
from rongmail.store.sqlite.meta import SqliteMeta

REPO = Path(__file__).resolve().parents[2]
MAIL = (b"From: a@example.com\r\nTo: lisi@demo.test\r\nSubject: relaxed\r\n"
        b"Message-ID: <relaxed@example.com>\r\n\r\nbody\r\n")


def sync_mode(dialect: str) -> Op[str]:
    """The commit mode the running write transaction is under, normalised to on/off."""
    if dialect == "sqlite":
        rows = yield Q("PRAGMA synchronous")
        return {1: "off", 2: "on"}.get(int(rows[0][0]), f"other:{rows[0][0]}")
    rows = yield Q("SHOW synchronous_commit")
    return str(rows[0][0])


async def test_relaxed_write_is_visible_and_skips_the_flush(stack) -> None:  # type: ignore[no-untyped-def]
    meta = stack.ctx.meta
    assert await meta.write(sync_mode(meta.dialect), durable=False) == "off"
    assert await meta.write(sync_mode(meta.dialect)) == "on"
    assert await meta.write(sync_mode(meta.dialect), durable=True) == "on"
    # the relaxed mode is per transaction: it does not leak into the next write
    assert await meta.write(sync_mode(meta.dialect), durable=False) == "off"
    assert await meta.write(sync_mode(meta.dialect)) == "on"

    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "lisi@demo.test", "Secret-pass-123")
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    r = await msg.do_append_message(stack.ctx, a.id, [inbox.id], MAIL)
    updated, failed = await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.SEEN,
                                             add_keywords=frozenset({"$label1"}))
    assert failed == [] and [u[0] for u in updated] == [r.message_id]
    # visible to a reader (another connection) as soon as the action returned
    [m] = await stack.reader.messages(a.id, [r.message_id])
    assert m.flags & fl.SEEN and m.keywords == frozenset({"$label1"})
    await msg.do_set_flags(stack.ctx, a.id, [r.message_id], remove=fl.SEEN, durable=True)
    [m] = await stack.reader.messages(a.id, [r.message_id])
    assert not m.flags & fl.SEEN


async def test_flag_actions_submit_relaxed_writes(stack) -> None:  # type: ignore[no-untyped-def]
    meta = stack.ctx.meta
    seen: list[bool] = []
    real = meta.write

    async def spy(op: Any, *, durable: bool = True) -> Any:
        seen.append(durable)
        return await real(op, durable=durable)

    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "lisi@demo.test", "Secret-pass-123")
    inbox = await stack.reader.mailbox_by_role(a.id, "inbox")
    meta.write = spy
    try:
        r = await msg.do_append_message(stack.ctx, a.id, [inbox.id], MAIL)
        assert seen == [True]  # delivery/APPEND stays durable
        await msg.do_set_flags(stack.ctx, a.id, [r.message_id], add=fl.FLAGGED)
        assert seen == [True, False]
        await msg.do_expunge(stack.ctx, a.id, inbox.id, uids=[r.uid])
        assert seen == [True, False, True]
    finally:
        del meta.write


async def test_mixed_batch_commits_full(tmp_path: Path) -> None:
    meta = SqliteMeta(tmp_path / "m.sqlite3")
    await meta.open()
    gate, entered = threading.Event(), threading.Event()

    def blocker() -> Op[None]:  # holds the writer thread so the next writes form one batch
        entered.set()
        gate.wait(10)
        yield Q("CREATE TABLE t (n INTEGER)")

    def insert_and_mode(n: int) -> Op[str]:
        yield Q("INSERT INTO t VALUES (?)", (n,))
        return (yield from sync_mode("sqlite"))

    try:
        first = asyncio.ensure_future(meta.write(blocker(), durable=False))
        await asyncio.to_thread(entered.wait, 10)
        mixed = [asyncio.ensure_future(meta.write(insert_and_mode(1), durable=False)),
                 asyncio.ensure_future(meta.write(insert_and_mode(2), durable=True)),
                 asyncio.ensure_future(meta.write(insert_and_mode(3), durable=False))]
        await asyncio.sleep(0.05)
        gate.set()
        await first
        assert await asyncio.gather(*mixed) == ["on", "on", "on"]
        only_relaxed = [meta.write(insert_and_mode(n), durable=False) for n in (4, 5)]
        assert await asyncio.gather(*only_relaxed) == ["off", "off"]

        def count() -> Op[int]:
            rows = yield Q("SELECT COUNT(*) FROM t")
            return int(rows[0][0])

        assert await meta.read(count()) == 5
    finally:
        gate.set()
        await meta.close()


class _CountingVFS(apsw.VFS):
    """Counts xSync calls per file kind (``-wal`` or main database)."""

    def __init__(self) -> None:
        self.syncs: dict[str, int] = {}
        super().__init__("rm-count-sync", "")

    def xOpen(self, name: Any, flags: Any) -> apsw.VFSFile:  # noqa: N802 (apsw API)
        return _CountingFile(self, name, flags)


class _CountingFile(apsw.VFSFile):
    def __init__(self, vfs: _CountingVFS, name: Any, flags: Any) -> None:
        self._vfs = vfs
        fname = name if isinstance(name, str) else name.filename() if name else ""
        self._kind = "wal" if str(fname).endswith("-wal") else "db"
        super().__init__("", name, flags)

    def xSync(self, flags: int) -> None:  # noqa: N802 (apsw API)
        self._vfs.syncs[self._kind] = self._vfs.syncs.get(self._kind, 0) + 1
        super().xSync(flags)


async def test_relaxed_commit_does_not_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vfs = _CountingVFS()
    real_connect = apsw.Connection

    def connect(path: str, flags: int = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE,
                **_: Any) -> apsw.Connection:
        return real_connect(path, flags=flags, vfs="rm-count-sync")

    monkeypatch.setattr(sqlite_meta.apsw, "Connection", connect)
    meta = SqliteMeta(tmp_path / "m.sqlite3")
    await meta.open()

    def insert(n: int) -> Op[None]:
        if n == 0:
            yield Q("CREATE TABLE t (n INTEGER)")
        yield Q("INSERT INTO t VALUES (?)", (n,))

    try:
        await meta.write(insert(0))
        before = sum(vfs.syncs.values())
        for n in range(1, 6):
            await meta.write(insert(n), durable=False)
        assert sum(vfs.syncs.values()) == before, vfs.syncs
        await meta.write(insert(6))
        assert vfs.syncs.get("wal", 0) > 0 and sum(vfs.syncs.values()) > before
    finally:
        await meta.close()
        vfs.unregister()


def test_relaxed_write_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    child = subprocess.Popen(
        [sys.executable, str(REPO / "tests/storage/relaxed_writer.py"), str(path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert child.stdout is not None
    last = 0
    for line in child.stdout:
        if line.startswith("ACK"):
            last = int(line.split()[1])
            if last >= 300:
                break
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert last >= 300
    conn = apsw.Connection(str(path))  # recovers from the WAL left behind
    try:
        rows = {int(r[0]) for r in conn.execute("SELECT n FROM relaxed_probe")}
    finally:
        conn.close()
    assert set(range(1, last + 1)) <= rows
