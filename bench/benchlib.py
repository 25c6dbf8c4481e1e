"""Shared helpers for the peer benchmarks in ``bench/`` (not a benchmark itself).

* locating ``../shared/data`` and unpacking its ``.tar.zst`` archives into temp dirs;
* a throw-away RongMail data directory (``rongmail init``, ``user add``) and a ``rongmail serve``
  child process with only the listeners a benchmark needs, on 127.0.0.x ports;
* percentiles / medians and a plain-text summary table.

Peers (Dovecot, Postfix) come from ``tests/peers`` so tests and benchmarks start them the same
way. Every subprocess is started and stopped by pid; nothing here kills by name.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the `peers` package
VENV_BIN = REPO / ".venv" / "bin"
RONGMAIL = str(VENV_BIN / "rongmail") if (VENV_BIN / "rongmail").exists() else "rongmail"
LISTENER_NAMES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
                  "http", "https", "managesieve")  # fmt: skip


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


# `timeout` and CI send SIGTERM: turn it into SystemExit so every `with` block stops its peer
# (Postfix, Dovecot, rongmail serve) instead of leaving it running
signal.signal(signal.SIGTERM, _on_sigterm)


class HarnessError(RuntimeError):
    """The benchmark itself could not run (exit code 2)."""


def shared_data(arg: str | None = None) -> Path:
    env = os.environ.get("RONGMAIL_SHARED_DATA")
    for cand in (arg, env, str(REPO.parent / "shared" / "data")):
        if cand and Path(cand).is_dir():
            return Path(cand)
    raise HarnessError("../shared/data not found (use --shared-data or RONGMAIL_SHARED_DATA)")


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a ``.tar.zst`` into ``dest`` (zstd | tar), return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("zstd") is None:
        raise HarnessError("the zstd command is missing (apt-get install zstd)")
    z = subprocess.Popen(["zstd", "-dc", str(archive)], stdout=subprocess.PIPE)
    t = subprocess.run(["tar", "x", "-C", str(dest)], stdin=z.stdout, capture_output=True)
    assert z.stdout is not None
    z.stdout.close()
    if z.wait() != 0 or t.returncode != 0:
        raise HarnessError(f"cannot unpack {archive}: {t.stderr[-300:]!r}")
    return dest


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def listening(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def median(values: Iterable[float]) -> float:
    v = [x for x in values if x == x]
    return statistics.median(v) if v else float("nan")


def ratio(a: float, b: float) -> str:
    if not (a == a and b == b) or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def fmt(v: float | None, spec: str = ".1f") -> str:
    if v is None or v != v:
        return "n/a"
    return format(v, spec)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]]
    return "\n".join(out)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- RongMail ------------------------------------------------------------------------------------
_REFERENCE: str | None = None


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its live descendants (from /proc/<n>/stat parent ids)."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user, system) used so far by ``pid``'s process tree: /proc/<pid>/stat
    utime + stime of every live process in it, plus cutime + cstime (children that exited and
    were reaped: Dovecot's per-connection processes after a LOGOUT)."""
    tick = os.sysconf("SC_CLK_TCK")
    user, system = 0.0, 0.0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            user += (int(f[11]) + int(f[13])) / tick  # fields 14, 16: utime, cutime
            system += (int(f[12]) + int(f[14])) / tick  # fields 15, 17: stime, cstime
    return user, system


def tree_cpu_ns(pid: int) -> float:
    """CPU seconds used so far by ``pid``'s process tree, finer than :func:`tree_cpu`: the
    scheduler's nanosecond run time of every live thread (``/proc/<n>/task/<t>/schedstat``,
    first field) plus the CPU of children that exited and were reaped (``cutime + cstime``,
    clock ticks: Dovecot's per-login processes after a LOGOUT). Threads that exited while their
    process lives are not counted (neither server starts and ends threads per command)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[13]) + int(f[14])) / tick  # fields 16, 17: cutime, cstime
            for t in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    total += int((t / "schedstat").read_text().split()[0]) / 1e9
    return total


def self_cpu() -> float:
    """CPU seconds (user + system) of this process: the benchmark's own client load."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def known_settings(env: dict[str, str]) -> dict[str, str]:
    """Only the ``RONGMAIL_*`` overrides this build knows (unknown keys fail validation):
    checked against ``rongmail config-reference``."""
    global _REFERENCE
    if _REFERENCE is None:
        proc = subprocess.run([RONGMAIL, "config-reference"], capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        _REFERENCE = proc.stdout
    return {k: v for k, v in env.items() if f"`{k}`" in _REFERENCE}


class RongMail:
    """A throw-away RongMail data directory with one domain and user, optionally served."""

    def __init__(self, *, domain: str = "bench.test", user: str = "bench",
                 password: str = "secret-Bench-1", backend: str = "sqlite",
                 postgres_dsn: str | None = None, base: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self.domain = domain
        self.address = f"{user}@{domain}"
        self.password = password
        self.backend = backend
        self.postgres_dsn = postgres_dsn
        self.tmp = Path(tempfile.mkdtemp(prefix="rongmail-bench-", dir=base))
        self.data_dir = self.tmp / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.listeners: dict[str, tuple[str, int]] = {}

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([RONGMAIL, *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env, **(env or {})})  # fmt: skip
        if check and proc.returncode != 0:
            raise HarnessError(f"rongmail {' '.join(args[:2])} failed ({proc.returncode}): "
                               f"{proc.stderr[-800:]}")  # fmt: skip
        return proc

    def init(self) -> RongMail:
        args = ["init", "--domain", self.domain, "--admin-email", f"admin@{self.domain}",
                "--admin-password", "Admin-Bench-Pw-1", "--backend", self.backend]
        if self.postgres_dsn:
            args += ["--postgres-dsn", self.postgres_dsn]
        self.cli(*args)
        self.cli("user", "add", self.address, "--password", self.password)
        return self

    def sqlite_path(self) -> Path:
        return self.data_dir / "meta.sqlite3"

    def serve(self, listeners: dict[str, tuple[str, int]], *, wait: float = 30.0) -> None:
        """Start ``rongmail serve`` with only ``listeners`` enabled (the rest set to "").

        Returns once the listeners answer and, with ``RONGMAIL_SERVER__WORKERS`` > 1, every
        worker process logged that it serves: the primary answers first, and a load started
        before the workers are up would put every long-lived session on the primary (the
        workers would only get the connections opened later), measuring start-up, not the
        configured server."""
        env = {**os.environ, **self.env}
        for name in LISTENER_NAMES:
            hp = listeners.get(name)
            env[f"RONGMAIL_LISTENERS__{name.upper()}"] = f"{hp[0]}:{hp[1]}" if hp else ""
        self.listeners = dict(listeners)
        log = (self.tmp / "serve.log").open("wb")
        self.proc = subprocess.Popen([RONGMAIL, "serve", "--data-dir", str(self.data_dir)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + wait
        workers = int(self.env.get("RONGMAIL_SERVER__WORKERS", "1") or 1)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return
            up = all(listening(h, p, 0.3) for h, p in listeners.values()) or (
                "serving" in self.log_text().lower() and time.monotonic() > deadline - wait + 5)
            if up and self.log_text().count(") serving: ") >= workers - 1:
                return
            time.sleep(0.2)

    def available(self, name: str) -> bool:
        hp = self.listeners.get(name)
        return bool(hp and self.proc is not None and self.proc.poll() is None
                    and listening(*hp))

    def log_text(self) -> str:
        p = self.tmp / "serve.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if not os.environ.get("RONGMAIL_KEEP_PEERS"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> RongMail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
