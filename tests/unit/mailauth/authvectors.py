"""Locate and unpack ``../shared/data/email_auth_vectors`` once per machine.

The tarball is unpacked under the system temp directory, keyed by its size and mtime, so the
suites can be parametrised at collection time. ``vectors_dir()`` is ``None`` when the shared
data (or ``zstd``) is absent; tests then skip with :data:`SKIP_REASON`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from functools import cache
from pathlib import Path

SKIP_REASON = (
    "email_auth_vectors not available: needs ../shared/data/email_auth_vectors/"
    "email_auth_vectors.tar.zst (see shared/data/README.md) and the zstd tool"
)


def _shared_data() -> Path:
    env = os.environ.get("RONGMAIL_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


@cache
def vectors_dir() -> Path | None:
    tarball = _shared_data() / "email_auth_vectors" / "email_auth_vectors.tar.zst"
    if not tarball.is_file() or shutil.which("zstd") is None:
        return None
    st = tarball.stat()
    dest = Path(tempfile.gettempdir()) / f"rongmail-auth-vectors-{st.st_size}-{int(st.st_mtime)}"
    root = dest / "email_auth_vectors"
    if root.is_dir():
        return root
    tmp = Path(tempfile.mkdtemp(prefix="rongmail-auth-vectors-"))
    proc = subprocess.run(["zstd", "-dc", str(tarball)], check=True, capture_output=True)
    tar_path = tmp / "v.tar"
    tar_path.write_bytes(proc.stdout)
    with tarfile.open(tar_path) as tf:
        tf.extractall(tmp, filter="data")
    tar_path.unlink()
    try:
        tmp.rename(dest)
    except OSError:  # another worker won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return root if root.is_dir() else None
