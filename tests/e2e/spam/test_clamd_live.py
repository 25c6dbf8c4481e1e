"""ClamAV through the live server (issue 9): ``rongmail serve`` configured with
``spam.clamd.address`` pointing at a real clamd (our own EICAR signature, see
``peers/clamd.py``). The EICAR file as a plain (7bit) attachment, inside a zip and inside a
base64 part is refused at DATA with 5xx (``VIRUS_FOUND`` is hard evidence) and the log explains
it; a clean attachment is delivered. Then clamd goes away: with the default
``scanner_failure = "accept"`` mail is still delivered, tagged ``SCANNER_UNAVAILABLE``.

Marked ``peer`` (Debian's clamav-daemon).
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from e2e.conftest import free_port, run_server
from e2e.spam.mailbox import no_dns_env, send, spam_headers
from peers import PeerUnavailable
from peers.clamd import EICAR, Clamd

pytestmark = pytest.mark.peer

PASSWORD = "User-pass-2026-x"
RCPT = "user@corp.test"


def _base(subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "sender@files.example"
    m["To"] = RCPT
    m["Subject"] = subject
    m["Message-ID"] = f"<{subject.replace(' ', '.')}@files.example>"
    m.set_content("The file you asked for is attached.")
    return m


def plain_attachment() -> bytes:
    m = _base("plain attachment")
    m.add_attachment(EICAR.decode(), subtype="plain", filename="readme.txt", cte="7bit")
    return m.as_bytes(policy=SMTP_POLICY)


def zipped() -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docs/tool.com", EICAR)
    m = _base("zipped")
    m.add_attachment(bio.getvalue(), maintype="application", subtype="zip", filename="docs.zip")
    return m.as_bytes(policy=SMTP_POLICY)


def base64_part() -> bytes:
    m = _base("base64 part")
    m.add_attachment(
        EICAR, maintype="application", subtype="octet-stream", filename="data.bin"
    )  # base64 transfer encoding
    raw = m.as_bytes(policy=SMTP_POLICY)
    assert b"Content-Transfer-Encoding: base64" in raw and EICAR not in raw
    return raw


def clean(subject: str) -> bytes:
    m = _base(subject)
    m.add_attachment(
        b"quarterly figures 1,2,3",
        maintype="application",
        subtype="octet-stream",
        filename="figures.bin",
    )
    return m.as_bytes(policy=SMTP_POLICY)


def _send(port: int, raw: bytes) -> int:
    return send(port, "sender@files.example", RCPT, raw, helo="mx.files.example")


def test_clamd_detects_through_the_live_server(tmp_path: Path) -> None:
    clamd = Clamd(tmp_path)
    try:
        clamd.start()
    except PeerUnavailable as e:
        pytest.skip(str(e))
    try:
        env = {
            **no_dns_env(free_port()),
            "RONGMAIL_SPAM__CLAMD__ADDRESS": clamd.address,
            "RONGMAIL_SPAM__CLAMD__TIMEOUT": "3",
            "RONGMAIL_SPAM__RSPAMD__AUTO_DETECT": "false",
        }
        with run_server(
            tmp_path, domain="corp.test", wait_for=("smtp", "imap"), extra_env=env
        ) as srv:
            srv.add_user(RCPT, PASSWORD, "Li Na")
            smtp = srv.ports["smtp"]
            codes = {
                name: _send(smtp, make())
                for name, make in (
                    ("plain", plain_attachment),
                    ("zip", zipped),
                    ("base64", base64_part),
                )
            }
            assert codes == {"plain": 550, "zip": 550, "base64": 550}, codes
            assert _send(smtp, clean("clean while up")) == 250
            log = srv.log.read_text(errors="replace")
            for filename in ("readme.txt", "docs.zip", "data.bin"):
                assert re.search(
                    rf"VIRUS_FOUND\(Rongmail\.Eicar\w*\.UNOFFICIAL: "
                    rf"{re.escape(filename)}\)\+20\.0",
                    log,
                ), log[-3000:]

            clamd.stop()  # the scanner goes away: fail open, tagged
            assert _send(smtp, clean("clean while down")) == 250
            deadline = time.monotonic() + 20
            got: dict[str, str] = {}
            while time.monotonic() < deadline and len(got) < 2:
                got = spam_headers(srv.ports["imap"], RCPT, PASSWORD)
                time.sleep(0.3)
    finally:
        clamd.stop()
    assert set(got) == {"clean while up", "clean while down"}, got
    assert "SCANNER_UNAVAILABLE" not in got["clean while up"]
    assert "SCANNER_UNAVAILABLE(+0.0)" in got["clean while down"], got


def test_clamd_started_after_the_server_is_auto_detected(tmp_path: Path) -> None:
    """Auto-detect with no clamd at the probed socket yet: mail is not scanned. clamd then
    starts at that socket; the periodic probe (``spam.probe_interval``) picks it up without a
    restart and the next EICAR mail is refused."""
    clamd = Clamd(tmp_path)
    env = {
        **no_dns_env(free_port()),
        "RONGMAIL_SPAM__CLAMD__DETECT_ADDRESS": clamd.address,  # does not exist yet
        "RONGMAIL_SPAM__CLAMD__TIMEOUT": "3",
        "RONGMAIL_SPAM__PROBE_INTERVAL": "1",
        "RONGMAIL_SPAM__RSPAMD__AUTO_DETECT": "false",
    }
    try:
        with run_server(
            tmp_path, domain="corp.test", wait_for=("smtp", "imap"), extra_env=env
        ) as srv:
            srv.add_user(RCPT, PASSWORD, "Li Na")
            smtp = srv.ports["smtp"]
            assert _send(smtp, plain_attachment()) == 250  # no scanner: not refused
            try:
                clamd.start()
            except PeerUnavailable as e:
                pytest.skip(str(e))
            deadline = time.monotonic() + 30
            while "detected (answers its probe)" not in srv.log.read_text(errors="replace"):
                assert time.monotonic() < deadline, srv.log.read_text(errors="replace")[-3000:]
                time.sleep(0.2)
            assert _send(smtp, plain_attachment()) == 550
            clamd.stop()  # it goes away: the probe notes it, mail is delivered, tagged
            deadline = time.monotonic() + 30
            while "stopped answering" not in srv.log.read_text(errors="replace"):
                assert time.monotonic() < deadline, srv.log.read_text(errors="replace")[-3000:]
                time.sleep(0.2)
            assert _send(smtp, clean("clean while down")) == 250
            got: dict[str, str] = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "clean while down" not in got:
                got = spam_headers(srv.ports["imap"], RCPT, PASSWORD)
                time.sleep(0.3)
    finally:
        clamd.stop()
    assert "SCANNER_UNAVAILABLE(+0.0)" in got["clean while down"], got
