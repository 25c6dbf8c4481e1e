"""``rongmail audit verify`` as an operator runs it: exit 0 on an intact log, 1 with a
readable report after someone edits or deletes rows in the database file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rongmail", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, check=check, timeout=120,
                          env={**os.environ, "RONGMAIL_LOCALE": "en"})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "rongmail", "init", "--data-dir", str(data),
                    "--domain", "corp.test", "--admin-email", "admin@corp.test",
                    "--admin-password", "Admin-pass-2026", "--hostname", "127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    _cli(data, "user", "add", "li@corp.test", "--password", "Li-pass-2026-x")
    for _ in range(2):
        _cli(data, "security", "freeze", "li@corp.test", "--reason", "test")
        _cli(data, "security", "unfreeze", "li@corp.test")
    return data


def test_verify_intact_then_tampered(data_dir: Path) -> None:
    assert (data_dir / "keys" / "audit.key").stat().st_mode & 0o077 == 0
    ok = _cli(data_dir, "audit", "verify")
    assert "Audit log intact: 4 entries" in ok.stdout
    head = json.loads(_cli(data_dir, "audit", "verify", "--json").stdout)
    assert head["ok"] and head["last"] == 4
    anchor = f"{head['last']}:{head['head']}"
    export = _cli(data_dir, "audit", "export").stdout.splitlines()
    assert [json.loads(x)["action"] for x in export] == [
        "account.frozen", "account.unfrozen", "account.frozen", "account.unfrozen"]

    db = sqlite3.connect(data_dir / "meta.sqlite3")
    db.execute("UPDATE audit_log SET detail = '{\"reason\":\"nothing\"}' WHERE seq = 1")
    db.commit()
    bad = _cli(data_dir, "audit", "verify", check=False)
    assert bad.returncode == 1
    assert "entry 1: content altered" in bad.stderr

    db.execute("DELETE FROM audit_log WHERE seq = 1")
    db.execute("DELETE FROM audit_log WHERE seq >= 4")
    db.execute("UPDATE audit_head SET seq = 3, digest = (SELECT digest FROM audit_log"
               " WHERE seq = 3) WHERE id = 1")
    db.commit()
    db.close()
    bad = _cli(data_dir, "audit", "verify", "--expect", anchor, check=False)
    assert bad.returncode == 1
    assert "entry 1: missing (deleted)" in bad.stderr
    assert "does not match the saved anchor" in bad.stderr
