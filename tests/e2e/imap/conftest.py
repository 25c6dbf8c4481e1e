"""Fixtures for IMAP end-to-end tests with real clients written by others: ``mbsync``
(isync), ``offlineimap3`` and ``neomutt`` (driven in ``tmux``), against a real
``rongmail serve`` over IMAPS (the server's self-signed certificate, trusted by file).

Clients are Debian packages, installed with apt-get only when missing (``peers.apt.ensure``);
where that is impossible the tests skip with the reason (and fail under ``CI``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_e2e import ImapServer

from e2e.conftest import run_server
from peers import PeerUnavailable, skip_or_fail
from peers.apt import ensure

pytestmark = pytest.mark.peer

USER = "zhang@corp.test"
PASSWORD = "Zhang-pass-2026"


def _binary(package: str, name: str) -> str:
    try:
        ensure([package])
    except PeerUnavailable as e:
        skip_or_fail(f"{package} is not installed and apt-get cannot install it: {e}")
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not on PATH after installing the Debian package {package}")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def mbsync_bin() -> str:
    return _binary("isync", "mbsync")


@pytest.fixture(scope="session")
def offlineimap_bin() -> str:
    return _binary("offlineimap3", "offlineimap")


@pytest.fixture(scope="session")
def neomutt_bin() -> str:
    _binary("tmux", "tmux")
    return _binary("neomutt", "neomutt")


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ImapServer]:
    """``rongmail serve`` with one account. Its data directory is on tmpfs when there is one:
    durability (fsync, syncfs) is tested by the storage suite; here it would only measure a
    shared disk, and importing 10,000 messages is dominated by it."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="rongmail-imap-", dir=shm)) if shm.is_dir() else tmp_path
    try:
        with run_server(base, wait_for=("imap", "imaps")) as srv:
            srv.add_user(USER, PASSWORD, "Zhang San")
            yield ImapServer(srv, USER, PASSWORD)
            if srv.proc.poll() is not None:  # shown with a failing test's captured output
                print(f"rongmail serve exited early ({srv.proc.returncode}):\n"
                      + srv.log.read_text(errors="replace")[-4000:])
    finally:
        if base != tmp_path:
            shutil.copy(base / "serve.log", tmp_path / "serve.log")
            shutil.rmtree(base, ignore_errors=True)
