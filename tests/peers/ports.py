"""Free loopback ports for servers that tests start in another process (or a moment later).

Asking the kernel for port 0 and closing the socket gives a port that is only *probably* still
free when the server binds it a second later: another pytest-xdist worker, or another test run
on the machine, may be handed the same port in between. Every port handed out here is also
leased for ``LEASE_SECONDS`` in a machine-wide table (a JSON file under an exclusive lock), and a
port still leased is never handed out again, so concurrent workers and runs cannot pick the same
port while one of them is starting its server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path

from peers import cache_lock

LEASE_SECONDS = 180.0
_TABLE = Path(tempfile.gettempdir()) / "rongmail-test-ports.json"
_LOCK = Path(tempfile.gettempdir()) / "rongmail-test-ports.lock"


def _kernel_port(address: str, udp: bool) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        port = int(s.getsockname()[1])
    if udp:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((address, port))
        except OSError:
            return None
    return port


def free_port(address: str = "127.0.0.1", *, udp: bool = False) -> int:
    """A TCP port (and the same UDP port with ``udp=True``) free on ``address`` and leased to
    the caller for ``LEASE_SECONDS``."""
    try:
        with cache_lock(_LOCK):
            return _lease(address, udp)
    except PermissionError:  # the table belongs to another user: the kernel's choice alone
        port = _kernel_port(address, udp)
        if port is None:
            raise OSError(f"no free port on {address}") from None
        return port


def _lease(address: str, udp: bool) -> int:
    """Under the table's lock: a kernel port that no live lease holds, now leased."""
    now = time.time()
    leases: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        leases = {k: float(v) for k, v in json.loads(_TABLE.read_text()).items() if v > now}
    for _ in range(200):
        port = _kernel_port(address, udp)
        if port is not None and str(port) not in leases:
            break
    else:
        raise OSError(f"no free port on {address}")
    leases[str(port)] = now + LEASE_SECONDS
    tmp = _TABLE.with_name(f"{_TABLE.name}.{os.getpid()}")
    tmp.write_text(json.dumps(leases))
    os.replace(tmp, _TABLE)
    return port
