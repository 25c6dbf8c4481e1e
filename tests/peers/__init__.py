"""Real third-party peers for end-to-end tests: Debian packages started privately on loopback.

* ``apt.py`` — install a Debian package only when it is missing (root only).
* ``dns_server.py`` — an authoritative Knot DNS server on 127.0.0.x with generated zones.
* ``postfix.py`` — a private Postfix instance (own config, queue and mail directories, own
  ports) that receives mail into Maildirs and can relay.

Each helper raises :class:`PeerUnavailable` when it cannot run here; tests turn that into a skip
locally and a failure in CI (``CI`` set), so a broken install step cannot hide.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path


class PeerUnavailable(RuntimeError):
    """The peer cannot be started on this machine (package missing and not installable...)."""


def skip_or_fail(reason: str) -> None:
    """Skip the calling test, or fail it under CI where peers must be available."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"peer unavailable in CI: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing): one test process at a time
    (e.g. pytest-xdist workers) fills or updates a cache shared between them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """Stop a peer daemon started with ``start_new_session=True``: SIGTERM, then SIGKILL of its
    own process group (only its children) if it does not exit within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
