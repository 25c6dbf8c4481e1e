"""Serving-process supervision for ``[server] workers`` > 1 (stdlib only).

The primary ``rongmail serve`` process starts ``count`` worker processes, each the same command
with :data:`WORKER_ENV` = ``"<index>:<primary pid>"`` in its environment (``app.serve`` reads
it with :func:`worker_role`) and the primary's listening sockets inherited (``core.listen``:
one accept queue per address, shared by every process). Invariants:

* **Restarted.** A worker that exits while the primary runs is started again (after
  ``restart_delay``, doubled up to ``MAX_DELAY`` while it keeps dying within ``STABLE`` seconds).
* **Graceful stop.** :meth:`Supervisor.terminate` sends SIGTERM (workers stop accepting and
  finish in-flight transactions); :meth:`Supervisor.wait` SIGKILLs what is left after the grace.
* **No orphans.** A worker asks the kernel for SIGTERM when the primary dies
  (``PR_SET_PDEATHSIG``, Linux ``prctl(2)``) and checks that the primary still is its parent
  (it may have died before the request), see :func:`die_with_parent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rongmail.core import listen

log = logging.getLogger("rongmail.procs")

WORKER_ENV = "RONGMAIL_WORKER"
PR_SET_PDEATHSIG = 1
STABLE = 5.0
MAX_DELAY = 30.0


@dataclass(frozen=True)
class WorkerRole:
    index: int
    parent: int


def worker_role(environ: Mapping[str, str] | None = None) -> WorkerRole | None:
    """This process's worker role, or ``None`` for the primary (or a single process)."""
    value = (os.environ if environ is None else environ).get(WORKER_ENV, "")
    if not value:
        return None
    index, _, parent = value.partition(":")
    return WorkerRole(int(index), int(parent))


def die_with_parent(parent: int) -> None:
    """Get SIGTERM when the primary ``parent`` dies; SIGTERM ourselves if it already did."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """Starts, restarts and stops ``count`` worker processes running ``argv`` (module doc);
    each inherits the ``shared`` listening sockets and load board (kept open by the caller)."""

    def __init__(
        self,
        argv: Sequence[str],
        count: int,
        *,
        shared: listen.SharedListeners | None = None,
        restart_delay: float = 0.5,
        poll: float = 0.2,
    ) -> None:
        self.argv = list(argv)
        self.count = count
        self.shared = shared
        self.restart_delay = restart_delay
        self.poll = poll
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._started: dict[int, float] = {}
        self._delay: dict[int, float] = {}
        self._stopping = False

    def _spawn(self, index: int) -> None:
        env = {**os.environ, WORKER_ENV: f"{index}:{os.getpid()}"}
        fds: list[int] = []
        if self.shared is not None:
            extra, fds = self.shared.child_env(index)
            env |= extra
        self.procs[index] = subprocess.Popen(self.argv, env=env, pass_fds=fds)
        self._started[index] = time.monotonic()
        log.info("worker %d started (pid %d)", index, self.procs[index].pid)

    def start(self) -> None:
        for index in range(1, self.count + 1):
            self._spawn(index)

    async def run(self) -> None:
        """Restart dead workers until :meth:`terminate` (a task of the primary)."""
        while not self._stopping:
            await asyncio.sleep(self.poll)
            for index, proc in list(self.procs.items()):
                if self._stopping or proc.poll() is None:
                    continue
                if self.shared is not None:  # no connection waits for a dead process
                    self.shared.board.retire(index)
                lived = time.monotonic() - self._started[index]
                delay = self._delay.get(index, self.restart_delay)
                delay = min(delay * 2, MAX_DELAY) if lived < STABLE else self.restart_delay
                self._delay[index] = delay
                log.warning(
                    "worker %d (pid %d) exited with %s; restarting in %.1fs",
                    index,
                    proc.pid,
                    proc.returncode,
                    delay,
                )
                await asyncio.sleep(delay)
                if not self._stopping:
                    self._spawn(index)

    def terminate(self) -> None:
        """Stop restarting and ask every worker to stop (SIGTERM)."""
        self._stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    async def wait(self, grace: float) -> None:
        """Wait for the workers to exit; SIGKILL those still running after ``grace`` seconds."""
        self.terminate()
        deadline = time.monotonic() + grace
        while any(p.poll() is None for p in self.procs.values()):
            if time.monotonic() >= deadline:
                for p in self.procs.values():
                    if p.poll() is None:
                        log.warning("worker pid %d did not stop in time; killing it", p.pid)
                        with contextlib.suppress(ProcessLookupError):
                            p.kill()
                        p.wait()
                break
            await asyncio.sleep(0.05)
