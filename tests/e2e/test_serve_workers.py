"""``[server] workers = 2`` end to end: a real ``rongmail serve`` with a worker process sharing
the primary's SMTP/IMAP listening sockets (``core.listen``: one accept queue). A stopped process
takes no connection, the other takes them all (a restarted worker too); changes committed in
one process reach IMAP IDLE sessions in the other (``bus.follower``); SIGTERM stops every
process; SIGKILL of the primary leaves no orphan; SIGKILL mid-load loses no acknowledged
message (RFC 5321 §6.1)."""

from __future__ import annotations

import asyncio
import imaplib
import os
import re
import signal
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e.conftest import RunningServer, run_server
from protocol.smtp.test_smtp_durability import assert_acked_once, start_load, stored_subjects

WORKERS = {"RONGMAIL_SERVER__WORKERS": "2"}
PASSWORD = "User-pass-2026-x"
EXISTS = re.compile(rb"^\* (\d+) EXISTS", re.MULTILINE)


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_workers(srv: RunningServer, n: int = 1, timeout: float = 60) -> list[int]:
    """Worker pids once they listen (their start-up log line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.log.read_text(errors="replace").count(") serving: ") >= n:
            return children(srv.proc.pid)
        time.sleep(0.1)
    raise AssertionError("workers never came up:\n" + srv.log.read_text()[-3000:])


def serving_pid(client: socket.socket, pids: list[int]) -> int:
    """The pid of the serve process holding the server side of ``client``'s TCP connection."""
    cport = client.getsockname()[1]
    sport = client.getpeername()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == sport and int(f[2].split(":")[1], 16) == cport:
            inode = f[9]
    assert inode, "server side of the connection not found"
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no serve process holds the connection")


@contextmanager
def only(serving: int, pids: list[int]) -> Iterator[None]:
    """Stop (SIGSTOP) every serve process but ``serving`` for the duration."""
    others = [p for p in pids if p != serving]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


def greeted_by(port: int, pids: list[int], count: int) -> set[int]:
    """Open ``count`` SMTP connections one after another; the pids that greeted them (a
    connection left in a stopped process's queue times out instead)."""
    landed: set[int] = set()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), 10) as c:
            c.settimeout(5)
            assert c.recv(512).startswith(b"220"), "no greeting within 5 s"
            landed.add(serving_pid(c, pids))
    return landed


@pytest.fixture
def workers_server(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(tmp_path, wait_for=("http", "smtp", "imap"), extra_env=WORKERS) as srv:
        srv.add_user("user@corp.test", PASSWORD)
        yield srv


def imap_login(srv: RunningServer) -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    m.starttls(ssl._create_unverified_context())
    m.login("user@corp.test", PASSWORD)
    return m


def start_idle(m: imaplib.IMAP4) -> None:
    m.select("INBOX")
    m.send(b"i1 IDLE\r\n")
    assert m.readline().startswith(b"+")
    m.sock.settimeout(0.2)


def idle_read(m: imaplib.IMAP4, until: float) -> bytes:
    out = b""
    while time.monotonic() < until:
        try:
            out += m.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            continue
    return out


def send_each_on_new_connection(port: int, count: int) -> None:
    for i in range(count):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("mx.sender.example")
            s.sendmail(
                "a@sender.example",
                ["user@corp.test"],
                f"From: a@sender.example\r\nTo: user@corp.test\r\nSubject: w{i}\r\n"
                f"Message-ID: <w{i}@sender.example>\r\n\r\nhello {i}\r\n",
            )


def test_a_stopped_process_takes_no_connection(workers_server: RunningServer) -> None:
    """One accept queue shared by both processes: while one is stopped, the other greets every
    new connection. (With SO_REUSEPORT each process had its own queue and the kernel sent about
    half of the connections to the stopped one, where they waited.)"""
    srv = workers_server
    pids = [srv.proc.pid, *wait_workers(srv)]
    assert len(pids) == 2
    for serving in pids:
        with only(serving, pids):
            assert greeted_by(srv.ports["smtp"], pids, 10) == {serving}
            m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=5)
            try:
                assert serving_pid(m.sock, pids) == serving
            finally:
                m.shutdown()


def test_long_lived_sessions_are_spread_by_load(workers_server: RunningServer) -> None:
    """IMAP sessions opened one after another and kept open end up evenly on both processes:
    the one holding more leaves new connections to the other (``core.listen.LoadBoard``),
    instead of the busier process, which polls without sleeping, winning every ``accept``."""
    srv = workers_server
    pids = [srv.proc.pid, *wait_workers(srv)]
    held: list[imaplib.IMAP4] = []
    try:
        for _ in range(20):
            held.append(imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=10))
        per = [sum(1 for m in held if serving_pid(m.sock, pids) == pid) for pid in pids]
        # 10/10 when both answer within MAX_DEFER; a loaded test machine may let a deferral
        # run out now and then (then one process takes connections for STALE_PEERS), so the
        # bound is looser (a bare shared queue put 82% of one benchmark run's IMAP writes on
        # one process)
        assert min(per) >= 6, per
    finally:
        for m in held:
            m.shutdown()


def test_idle_sees_deliveries_from_every_process(workers_server: RunningServer) -> None:
    srv = workers_server
    pids = [srv.proc.pid, *wait_workers(srv)]
    assert len(pids) == 2
    m = imap_login(srv)
    try:
        start_idle(m)
        count = 20
        for serving in pids:  # half of the mail through each process
            with only(serving, pids):
                send_each_on_new_connection(srv.ports["smtp"], count // 2)
        sent_at = time.monotonic()
        seen = idle_read(m, sent_at + 1.0)
        exists = [int(n) for n in EXISTS.findall(seen)]
        assert exists and max(exists) == count, seen[-500:]
    finally:
        m.shutdown()


def test_flag_change_reaches_idle_in_the_other_process(workers_server: RunningServer) -> None:
    srv = workers_server
    pids = [srv.proc.pid, *wait_workers(srv)]
    send_each_on_new_connection(srv.ports["smtp"], 1)
    by_pid: dict[int, imaplib.IMAP4] = {}
    extra: list[imaplib.IMAP4] = []
    for _ in range(30):
        m = imap_login(srv)
        pid = serving_pid(m.sock, pids)
        if pid in by_pid:
            extra.append(m)
        else:
            by_pid[pid] = m
        if len(by_pid) == 2:
            break
    assert len(by_pid) == 2, "never got IMAP sessions in both processes"
    idler, setter = by_pid[pids[0]], by_pid[pids[1]]
    try:
        start_idle(idler)
        setter.select("INBOX")
        setter.store("1", "+FLAGS", "(\\Flagged)")
        seen = idle_read(idler, time.monotonic() + 1.0)
        assert re.search(rb"\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged", seen), seen
    finally:
        for m in (idler, setter, *extra):
            m.shutdown()


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    with run_server(tmp_path, wait_for=("smtp",), extra_env=WORKERS) as srv:
        workers = wait_workers(srv)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(30) == 0
        deadline = time.monotonic() + 15
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers)
        assert "worker 1 stopping" in srv.log.read_text()


def test_sigkill_of_the_primary_leaves_no_orphan(tmp_path: Path) -> None:
    with run_server(tmp_path, wait_for=("smtp",), extra_env=WORKERS) as srv:
        workers = wait_workers(srv)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        deadline = time.monotonic() + 20
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers), "a worker outlived the primary"


def test_dead_worker_is_restarted(tmp_path: Path) -> None:
    with run_server(tmp_path, wait_for=("smtp",), extra_env=WORKERS) as srv:
        (worker,) = wait_workers(srv)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = [p for p in children(srv.proc.pid) if alive(p)]
            if now and now != [worker]:
                break
            time.sleep(0.1)
        assert now and worker not in now
        # the new worker serves the inherited sockets
        wait_workers(srv, n=2)
        (new,) = now
        pids = [srv.proc.pid, new]
        with only(new, pids):
            assert greeted_by(srv.ports["smtp"], pids, 3) == {new}


def mapped(pid: int, library: str) -> bool:
    """Whether process ``pid`` has loaded a shared library whose path contains ``library``."""
    return library in Path(f"/proc/{pid}/maps").read_text()


#: NumPy's core extension (the spam content classifier) and PyNaCl's libsodium binding (DKIM
#: Ed25519, loaded with the rest of ``services.mailauth``)
NUMPY, NACL = "_multiarray_umath", "_sodium"


def test_only_processes_receiving_mail_load_the_filters(tmp_path: Path) -> None:
    """The spam classifier (NumPy: ~12 MB and an OpenBLAS thread per process) is loaded at
    start by every process that receives mail over SMTP, so no first message waits for it, and
    by none that serves only IMAP/POP3/HTTP; a worker without SMTP does not load the mail
    authentication libraries either (the primary does: its outbound queue signs mail)."""
    no_smtp = {**WORKERS, **{f"RONGMAIL_LISTENERS__{name.upper()}": ""
                             for name in ("smtp", "submission", "submissions")}}
    with run_server(tmp_path / "imap", wait_for=("http", "imap"), extra_env=no_smtp) as srv:
        (worker,) = wait_workers(srv)
        srv.add_user("user@corp.test", PASSWORD)
        m = imap_login(srv)  # sessions work, in whichever process took them
        m.select("INBOX")
        m.logout()
        assert not mapped(srv.proc.pid, NUMPY) and not mapped(worker, NUMPY)
        assert not mapped(worker, NACL)
    with run_server(tmp_path / "smtp", wait_for=("smtp", "imap"), extra_env=WORKERS) as srv:
        (worker,) = wait_workers(srv)
        assert mapped(srv.proc.pid, NUMPY) and mapped(worker, NUMPY)
        assert mapped(worker, NACL)


@pytest.mark.slow
async def test_sigkill_mid_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    from rongmail.app import open_app

    with run_server(tmp_path, domain="kill.test", wait_for=("smtp",), extra_env=WORKERS) as srv:
        srv.add_user("u@kill.test", "Kill-test-pass-1")
        workers = wait_workers(srv)
        acked, stop, threads = start_load(srv.ports["smtp"])
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for pid in workers:  # no shutdown path anywhere
            os.kill(pid, signal.SIGKILL)
        srv.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(srv.proc.wait)
        stop.set()
        for t in threads:
            await asyncio.to_thread(t.join, 5)
    assert len(acked) >= 50, "the load did not get going"

    app = await open_app(srv.data_dir)
    try:
        user = await app.reader.account_by_address("u@kill.test")
        assert user is not None
        stored = await stored_subjects(app.reader, user.tenant_id, user.id)
    finally:
        await app.close()
    assert_acked_once(acked, stored)
