"""ClamAV through clamd's INSTREAM, with a signature file of our own (Debian ships none).

Marked ``peer``: it starts the real ``clamd`` from Debian on a Unix socket in a temp dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rongmail.services.spam import Action, Policy, ScanContext, analyze
from rongmail.services.spam.clamd import ClamdScanner
from rongmail.services.spam.message import parse

from .helpers import raw_message

pytestmark = pytest.mark.peer

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"RONGMAIL-CLAMD-TEST-SIGNATURE-0001"


@pytest.fixture(scope="module")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("clamd") or (
        "/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None
    )
    if binary is None:
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    d = tmp_path_factory.mktemp("clamd")
    db = d / "db"
    db.mkdir()
    # Our own signatures: EICAR by MD5 (.hdb) and a body pattern (.ndb).
    (db / "rongmail.hdb").write_text(
        f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Rongmail.Eicar\n"
    )
    (db / "rongmail.ndb").write_text(f"Rongmail.Marker:0:*:{MARKER.hex()}\n")
    sock = d / "clamd.sock"
    conf = d / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {d / 'clamd.log'}\n"
        f"PidFile {d / 'clamd.pid'}\nTemporaryDirectory {d}\nUser root\n"
    )
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        scanner = ClamdScanner(socket_path=str(sock))
        deadline = time.monotonic() + 60
        while not asyncio.run(scanner.available()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(
                    f"clamd did not start: {(d / 'clamd.log').read_text(errors='replace')[-500:]}"
                )
            time.sleep(0.2)
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_clamd_detects_eicar_marker_zip_and_base64(clamd_socket: str) -> None:
    scanner = ClamdScanner(socket_path=clamd_socket)
    assert await scanner.available()
    assert await scanner.scan(EICAR) == "Rongmail.Eicar.UNOFFICIAL"
    assert await scanner.scan(b"prefix " + MARKER + b" suffix") == "Rongmail.Marker.UNOFFICIAL"
    assert await scanner.scan(b"hello") is None
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        z.writestr("inner/eicar.com", EICAR)
    assert await scanner.scan(bio.getvalue()) == "Rongmail.Eicar.UNOFFICIAL"
    # The same file as a base64 MIME attachment: the analyzer decodes parts before scanning.
    raw = raw_message(attachments=[("notes.txt", EICAR)])
    ctx = ScanContext(raw=raw, virus_scanner=scanner)
    verdict = Policy().decide(await analyze(parse(raw), ctx))
    assert verdict.action is Action.REJECT and "VIRUS_FOUND" in verdict.tag_names


async def test_unreachable_clamd_is_not_fatal(tmp_path: Path) -> None:
    scanner = ClamdScanner(socket_path=str(tmp_path / "missing.sock"), timeout=0.5)
    assert not await scanner.available()
    assert await scanner.scan(EICAR) is None
