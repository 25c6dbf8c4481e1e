"""A real rspamd for tests and benchmarks: Debian's ``rspamd`` with a private configuration.

:class:`Rspamd` runs the stock ``/etc/rspamd/rspamd.conf`` with a private ``LOCAL_CONFDIR``
(``local.d``/``override.d`` under the work directory), its database, run and log directories
there too, the normal worker and the controller on free loopback ports, and the proxy worker
off. The modules that need the network (RBL/SURBL, SPF, DKIM, DMARC, ARC, ASN, fuzzy, DCC, MX
check, updates) or Redis state other than Bayes (neural, reputation, rate limits, greylisting,
replies, history) are disabled, so verdicts come from rspamd's local rules (e.g. GTUBE) and, when
``redis`` is given, its Bayes classifier in that Redis database (flushed at start and stop).

It starts in the foreground of its own process session (as ``_rspamd`` when run as root, since
rspamd refuses to run as root) and is stopped by pid. Starting takes ~20-50 s on a 2-core
machine (it compiles its rule maps).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from peers import PeerUnavailable, ports, stop_process
from peers.apt import ensure

#: Modules that need the network or Redis state other than Bayes.
OFF = ("rbl", "surbl", "spf", "dkim", "dmarc", "arc", "asn", "fuzzy_check", "dcc", "neural",
       "reputation", "ratelimit", "greylist", "replies", "history_redis", "url_redirector",
       "mx_check", "rspamd_update")  # fmt: skip
USER = "_rspamd"


def free_port(host: str = "127.0.0.1") -> int:
    return ports.free_port(host)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Rspamd:
    """A private rspamd; ``normal`` is the scanner address (``/checkv2``), ``controller`` the
    learning address (``rspamc learn_spam|learn_ham``)."""

    def __init__(self, workdir: Path, *, redis: str | None = None, redis_db: int = 0) -> None:
        self.root = Path(workdir) / "rspamd"
        self.redis, self.redis_db = redis, redis_db
        self.normal = f"127.0.0.1:{free_port()}"
        self.controller = f"127.0.0.1:{free_port()}"
        self.log = self.root / "daemon.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """For ``spam.rspamd.url``."""
        return f"http://{self.normal}"

    def _flush(self) -> None:
        if self.redis is None:
            return
        host, _, port = self.redis.rpartition(":")
        cmd = ["redis-cli", "-h", host, "-p", port, "-n", str(self.redis_db), "flushdb"]
        if subprocess.run(cmd, capture_output=True).returncode:
            raise PeerUnavailable(f"cannot flush Redis {self.redis} db {self.redis_db}")

    def _configure(self) -> list[str]:
        shutil.rmtree(self.root, ignore_errors=True)
        local, override = self.root / "local.d", self.root / "override.d"
        for d in (local, override, self.root / "db", self.root / "run"):
            d.mkdir(parents=True)
        files = {
            override / "worker-normal.inc": f'bind_socket = "{self.normal}";\ncount = 1;\n',
            override / "worker-controller.inc": f'bind_socket = "{self.controller}";\ncount = 1;\n',
            override / "worker-proxy.inc": f'bind_socket = "127.0.0.1:{free_port()}";\ncount = 0;\n',
            local / "logging.inc": 'type = "console";\nlevel = "error";\n',
            local / "options.inc": f'pidfile = "{self.root}/run/rspamd.pid";\n',
        }
        if self.redis is not None:
            files[local / "redis.conf"] = f'servers = "{self.redis}";\ndb = "{self.redis_db}";\n'
            files[local / "classifier-bayes.conf"] = (
                f'backend = "redis";\nservers = "{self.redis}";\ndb = "{self.redis_db}";\n'
                "autolearn = false;\nmin_learns = 20;\n"
            )
        files.update({local / f"{m}.conf": "enabled = false;\n" for m in OFF})
        for path, text in files.items():
            path.write_text(text)
        root = os.geteuid() == 0
        if root:
            subprocess.run(["chown", "-R", f"{USER}:", str(self.root)], check=True)
        return ["rspamd", "-f", *(["-u", USER, "-g", USER] if root else []),
                "-c", "/etc/rspamd/rspamd.conf", f"--var=LOCAL_CONFDIR={self.root}",
                f"--var=DBDIR={self.root}/db", f"--var=RUNDIR={self.root}/run",
                f"--var=LOGDIR={self.root}"]  # fmt: skip

    def ready(self) -> bool:
        host, _, port = self.normal.rpartition(":")
        if not _listening(host, int(port)):
            return False
        cmd = ["rspamc", "-h", self.controller, "stat"]
        return subprocess.run(cmd, capture_output=True).returncode == 0

    def start(self, timeout: float = 240.0) -> Rspamd:
        ensure(("rspamd",))
        if shutil.which("rspamd") is None:
            raise PeerUnavailable("rspamd not found")
        self._flush()
        argv = self._configure()
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=self.root, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_bytes()[-800:].decode(errors="replace")
                self.stop()
                raise PeerUnavailable(f"rspamd did not start: {tail}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None
        self._flush()

    def __enter__(self) -> Rspamd:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
