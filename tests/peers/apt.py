"""Install Debian packages for test peers, only when missing.

``ensure(["knot", "postfix"])`` checks ``dpkg-query`` first and runs ``apt-get`` only for what
is absent (once ``apt-get update`` per process), under an exclusive file lock so parallel test
workers do not fight over the dpkg lock. Postfix is installed with debconf set to "No
configuration" so the system instance is neither configured nor started.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from peers import PeerUnavailable

_LOCK = Path("/tmp/rongmail-test-apt.lock")
_updated = False

_DEBCONF = {
    "postfix": [
        "postfix postfix/main_mailer_type select No configuration",
        "postfix postfix/mailname string localhost",
    ],
}


def installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return proc.returncode == 0 and proc.stdout.strip().endswith("install ok installed")


def ensure(packages: Sequence[str], *, timeout: float = 900) -> None:
    """Make sure every package is installed; raise :class:`PeerUnavailable` if impossible."""
    global _updated
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise PeerUnavailable(f"Debian packages missing and not installable here: {missing}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [p for p in packages if not installed(p)]
        if not missing:
            return
        for p in missing:
            for line in _DEBCONF.get(p, []):
                subprocess.run(["debconf-set-selections"], input=line, text=True, check=False)
        try:
            if not _updated:
                subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True,
                               timeout=timeout)  # fmt: skip
                _updated = True
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", *missing],
                env=env, check=True, capture_output=True, timeout=timeout,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            out = getattr(e, "stderr", b"") or b""
            raise PeerUnavailable(f"apt-get install {missing} failed: {out[-500:]!r}") from e
