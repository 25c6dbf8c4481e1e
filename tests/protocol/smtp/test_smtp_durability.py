"""Durability (RFC 5321 §6.1): SIGKILL the server during a load; after restart every message
that got ``250`` is in the mailbox, and none is there twice. SQLite stack, real sockets."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions.context import ActionContext
from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.fs.keys import KeyRing
from rongmail.store.inline_blobs import InlineBlobStore
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d
from rongmail.store.sql.q import Q
from rongmail.store.sqlite.meta import SqliteMeta

HERE = Path(__file__).resolve().parent
SUBJECT = re.compile(rb"^Subject: (m-\d+-\d+)\r$", re.MULTILINE)


async def open_stack(data_dir: Path, master: bytes) -> tuple[SqliteMeta, ActionContext, Reader]:
    keys = KeyRing(master)
    meta = SqliteMeta(data_dir / "meta.sqlite3")
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    settings = Settings()
    # as app.open_app builds it: these 2 KB bodies are stored by their delivery's transaction
    blobs = InlineBlobStore(FsBlobStore(data_dir / "blobs", keys), meta,
                            inline_max=settings.storage.inline_blob_max)
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys, settings=settings)
    return meta, ctx, Reader(meta, blobs)


def client(port: int, worker: int, acked: list[str], stop: threading.Event) -> None:
    """Pipelined transactions on one connection; records subjects answered 250."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = sock.makefile("rb")

        def reply() -> bytes:
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError
                if line[3:4] == b" ":
                    return line

        reply()
        sock.sendall(b"EHLO load.example\r\n")
        reply()
        n = 0
        while not stop.is_set():
            subject = f"m-{worker}-{n}"
            sock.sendall(b"MAIL FROM:<l@load.example>\r\nRCPT TO:<u@kill.test>\r\nDATA\r\n")
            if [reply()[:3] for _ in range(3)] != [b"250", b"250", b"354"]:
                return
            sock.sendall(f"Subject: {subject}\r\n\r\n".encode() + b"x" * 2000 + b"\r\n.\r\n")
            if reply().startswith(b"250 "):
                acked.append(subject)
            n += 1
    except OSError:
        return


def start_load(
    port: int, clients: int = 8
) -> tuple[list[str], threading.Event, list[threading.Thread]]:
    """``clients`` threads running :func:`client`; returns (acked subjects, stop, threads)."""
    acked: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=client, args=(port, w, acked, stop), daemon=True)
        for w in range(clients)
    ]
    for t in threads:
        t.start()
    return acked, stop, threads


@pytest.mark.slow
async def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    meta, ctx, reader = await open_stack(tmp_path, master)
    tenant = await acc.do_create_tenant(ctx, "kill")
    await acc.do_create_domain(ctx, tenant.id, "kill.test")
    user = await acc.do_create_account(ctx, "u@kill.test", "Kill-test-pass-1")
    await meta.close()

    env = {**os.environ, "PYTHONPATH": str(HERE.parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "smtp_kill_server.py"), str(tmp_path), master.hex()],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        port = int(line.split()[1])
        acked, stop, threads = start_load(port)
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-load, no shutdown path at all
        await asyncio.to_thread(proc.wait)
        stop.set()
        for t in threads:
            await asyncio.to_thread(t.join, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 50, "the load did not get going"

    meta, ctx, reader = await open_stack(tmp_path, master)
    try:
        stored = await stored_subjects(reader, tenant.id, user.id)
        inline = await meta.read(_count_inline())
    finally:
        await meta.close()
    assert_acked_once(acked, stored)
    # the bodies were stored by the deliveries' own commits (store.inline_blobs), no files
    assert inline >= len(acked)
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


def _count_inline():  # type: ignore[no-untyped-def]
    rows = yield Q("SELECT count(*) FROM blob_inline")
    return int(rows[0][0])


async def stored_subjects(reader: Reader, tenant_id: int, account_id: int) -> list[str]:
    """The ``m-<worker>-<n>`` subjects of the account's Inbox, one per stored message."""
    inbox = await reader.mailbox_by_role(account_id, "inbox")
    entries = await reader.mailbox_entries(inbox.id)
    messages = await reader.messages(account_id, [e.message_id for e in entries])
    stored: list[str] = []
    for m in messages:
        raw = await reader.message_bytes(tenant_id, m.blob_id)
        found = SUBJECT.search(raw)
        assert found, raw[:200]
        stored.append(found.group(1).decode())
    return stored


def assert_acked_once(acked: list[str], stored: list[str]) -> None:
    assert len(stored) == len(set(stored)), "a message was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:5]}"
