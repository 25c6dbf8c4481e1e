"""The whole product on PostgreSQL: `rongmail init --backend postgres`, then mail in by SMTP
and out by IMAP and POP3 from a real `rongmail serve` process."""

from __future__ import annotations

import asyncio
import imaplib
import os
import poplib
import signal
import smtplib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from e2e.conftest import LISTENERS, _wait_ports, free_port

pytestmark = pytest.mark.postgres
ADMIN_DSN = os.environ.get("RONGMAIL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _db(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database():  # type: ignore[no-untyped-def]
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            reachable = True
    except OSError:
        reachable = False
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"rm_e2e_{uuid.uuid4().hex[:10]}"
    asyncio.run(_db(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_db(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_serve_on_postgres(tmp_path: Path, pg_database: str) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "RONGMAIL_LOCALE": "en"}
    subprocess.run([sys.executable, "-m", "rongmail", "init", "--data-dir", str(data),
                    "--domain", "pg.test", "--admin-email", "admin@pg.test", "--admin-password",
                    "Admin-pass-2026", "--backend", "postgres", "--postgres-dsn", pg_database],
                   check=True, capture_output=True, env=env, timeout=120)
    assert 'backend = "postgres"' in (data / "rongmail.toml").read_text()
    assert not list(data.glob("*.sqlite3"))
    ports = {n: free_port() for n in LISTENERS}
    for n, p in ports.items():
        env[f"RONGMAIL_LISTENERS__{n.upper()}"] = f"127.0.0.1:{p}"
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rongmail", "serve", "--data-dir",
                                 str(data)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ports({n: ports[n] for n in ("smtp", "imap", "pop3")}, proc, log)
        with smtplib.SMTP("127.0.0.1", ports["smtp"]) as s:
            s.ehlo("peer.example")
            for i in range(3):
                s.sendmail("zhang@example.com", ["admin@pg.test"],
                           f"From: zhang@example.com\r\nTo: admin@pg.test\r\nSubject: pg {i}\r\n"
                           f"Message-ID: <pg{i}@example.com>\r\n\r\n\u62a5\u4ef7\u5355 {i}\r\n"
                           .encode())
        m = imaplib.IMAP4("127.0.0.1", ports["imap"])
        m.starttls(__import__("ssl")._create_unverified_context())
        m.login("admin@pg.test", "Admin-pass-2026")
        typ, data_ = m.select("INBOX")
        assert typ == "OK" and data_[0] == b"3"
        typ, hits = m.uid("SEARCH", "CHARSET", "UTF-8", "BODY",
                          '"\u62a5\u4ef7\u5355"'.encode())
        assert hits[0].split() == [b"1", b"2", b"3"]
        m.uid("STORE", "1", "+FLAGS", "(\\Seen)")
        # leave the IMAP connection open: shutdown must not wait for this client
        p = poplib.POP3("127.0.0.1", ports["pop3"])
        p.stls(__import__("ssl")._create_unverified_context())
        p.user("admin@pg.test")
        p.pass_("Admin-pass-2026")
        assert p.stat()[0] == 3
        p.quit()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            subprocess.run(["py-spy", "dump", "--pid", str(proc.pid)], check=False)
            proc.kill()
            raise
    assert proc.returncode == 0, log.read_text()[-3000:]
