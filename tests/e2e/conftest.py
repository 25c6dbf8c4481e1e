"""A real RongMail process for end-to-end tests: ``rongmail init`` + ``rongmail serve`` on free
loopback ports, exactly as a user runs it. Tests talk to it over sockets only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from peers import ports

LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")


def free_port() -> int:
    """A free port on 127.0.0.1, leased so no other xdist worker or test run takes it first
    (see ``peers.ports``)."""
    return ports.free_port("127.0.0.1")


@dataclass
class RunningServer:
    data_dir: Path
    ports: dict[str, int]
    admin: str
    password: str
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports['http']}{path}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rongmail", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=check,
            env={**os.environ, "RONGMAIL_LOCALE": "en"},
            timeout=120,
        )

    def add_user(self, email: str, password: str, name: str = "") -> None:
        self.cli("user", "add", email, "--password", password, "--name", name)


def _wait_ports(
    ports: dict[str, int], proc: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(ports)
    while pending and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("rongmail serve exited:\n" + log.read_text()[-4000:])
        for name, port in list(pending.items()):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                pending.pop(name)
        time.sleep(0.1)
    if pending:
        raise RuntimeError(f"listeners never came up: {pending}\n" + log.read_text()[-4000:])


@contextlib.contextmanager
def run_server(
    tmp: Path,
    *,
    domain: str = "corp.test",
    wait_for: tuple[str, ...] = ("http",),
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    data = tmp / "data"
    admin, password = f"admin@{domain}", "Admin-pass-2026"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rongmail",
            "init",
            "--data-dir",
            str(data),
            "--domain",
            domain,
            "--admin-email",
            admin,
            "--admin-password",
            password,
            "--hostname",
            "127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    ports = {name: free_port() for name in LISTENERS}
    env = {**os.environ, "RONGMAIL_LOCALE": "en", "RONGMAIL_LOG": "INFO"}
    for name, port in ports.items():
        env[f"RONGMAIL_LISTENERS__{name.upper()}"] = f"127.0.0.1:{port}"
    env.update(extra_env or {})
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rongmail", "serve", "--data-dir", str(data)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_ports({n: ports[n] for n in wait_for}, proc, log)
        yield RunningServer(data, ports, admin, password, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(tmp_path) as s:
        yield s
