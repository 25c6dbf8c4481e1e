"""A real ClamAV daemon for tests: Debian's ``clamd`` with a signature database of our own.

Debian's clamav-daemon ships no signatures (freshclam downloads them), so :class:`Clamd`
writes small ones: the public EICAR test file by MD5 (``rongmail.hdb``: the exact file), the
EICAR string anywhere in a file and a marker (``rongmail.ndb``: e.g. a text attachment whose
MIME encoding added a line break). clamd reports ``Rongmail.Eicar.UNOFFICIAL``,
``Rongmail.EicarText.UNOFFICIAL`` and ``Rongmail.Marker.UNOFFICIAL``. It listens on a Unix
socket in the work directory, runs in the foreground of its own process and is stopped by pid.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from peers import PeerUnavailable
from peers.apt import ensure

#: The EICAR anti-virus test file (a public test string, harmless).
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"RONGMAIL-CLAMD-TEST-SIGNATURE-0001"
EICAR_NAME = "Rongmail.Eicar.UNOFFICIAL"


class Clamd:
    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir) / "clamd"
        self.socket = self.workdir / "clamd.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """For ``spam.clamd.address``."""
        return f"unix:{self.socket}"

    def start(self, timeout: float = 90.0) -> Clamd:
        ensure(("clamav-daemon",))
        binary = shutil.which("clamd") or "/usr/sbin/clamd"
        if not Path(binary).exists():
            raise PeerUnavailable("clamd not found")
        db = self.workdir / "db"
        db.mkdir(parents=True, exist_ok=True)
        (db / "rongmail.hdb").write_text(
            f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Rongmail.Eicar\n"
        )
        (db / "rongmail.ndb").write_text(
            f"Rongmail.Marker:0:*:{MARKER.hex()}\nRongmail.EicarText:0:*:{EICAR.hex()}\n"
        )
        d = self.workdir
        conf = d / "clamd.conf"
        conf.write_text(
            f"LocalSocket {self.socket}\nDatabaseDirectory {db}\nForeground yes\n"
            f"LogFile {d / 'clamd.log'}\nPidFile {d / 'clamd.pid'}\nTemporaryDirectory {d}\n"
            "User root\n"
        )
        self._proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = (
                    (d / "clamd.log").read_text(errors="replace")
                    if (d / "clamd.log").exists()
                    else ""
                )
                self.stop()
                raise PeerUnavailable(f"clamd did not start: {log[-500:]}")
            time.sleep(0.2)
        return self

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.socket))
                s.sendall(b"zPING\0")
                return s.recv(16).rstrip(b"\0") == b"PONG"
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> Clamd:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
