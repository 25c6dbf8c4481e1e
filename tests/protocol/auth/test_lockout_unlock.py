"""Lockout thresholds from typed configuration and the admin unlock (issue 8), against a real
``rongmail serve``.

* ``[security.lockout]`` (here through ``RONGMAIL_SECURITY__LOCKOUT__*``) replaces the code
  defaults: with ``failures_before_backoff = 2`` the third attempt is already refused (the
  default would allow five failures).
* ``POST /api/admin/security/accounts/{address}/unlock`` clears the account's counters from
  every source (an ordinary user gets 403), the locked source can sign in at once (web and
  IMAP), and the unlock is an entry of the hash-chained audit log, which still verifies.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from identity_helpers import HOME, Web, imap_login
from pydantic import ValidationError

from e2e.conftest import run_server
from rongmail.config.security import LockoutSettings

ATTACKER = "127.0.9.41"
ENV = {
    "RONGMAIL_SECURITY__LOCKOUT__FAILURES_BEFORE_BACKOFF": "2",
    "RONGMAIL_SECURITY__LOCKOUT__BACKOFF_BASE_SECONDS": "600",
}


def test_lockout_settings_are_validated() -> None:
    assert LockoutSettings().failures_before_backoff == 5
    with pytest.raises(ValidationError):
        LockoutSettings(backoff_base_seconds=600, backoff_max_seconds=60)
    with pytest.raises(ValidationError):
        LockoutSettings(failures_before_backoff=0)


def test_configured_threshold_and_admin_unlock(tmp_path: Path) -> None:
    user, pw = "qiu@corp.test", "Qiu-pass-2026-xyz"
    with run_server(tmp_path, wait_for=("http", "imaps"), extra_env=ENV) as srv:
        srv.add_user(user, pw)
        srv.add_user("bystander@corp.test", pw)
        attacker = Web(srv, ATTACKER)
        statuses = [attacker.login(user, f"guess-{i}")[0] for i in range(3)]
        assert statuses == [401, 401, 429], statuses
        assert attacker.login(user, pw)[0] == 429  # the right password too, from there
        assert imap_login(srv, ATTACKER, user, pw).startswith("a1 NO [LIMIT]")

        bystander = Web(srv, HOME[31])
        assert bystander.login("bystander@corp.test", pw)[0] == 200
        path = f"/api/admin/security/accounts/{user}/unlock"
        assert bystander.call("POST", path)[0] == 403

        admin = Web(srv, HOME[32])
        assert admin.login(srv.admin, srv.password)[0] == 200
        status, _, body = admin.call("POST", path)
        assert status == 200 and body["cleared"] >= 1, body
        with sqlite3.connect(srv.data_dir / "meta.sqlite3", timeout=30) as db:
            left = db.execute("SELECT COUNT(*) FROM auth_throttle WHERE login = ?", (user,))
            assert left.fetchone()[0] == 0

        assert imap_login(srv, ATTACKER, user, pw).startswith("a1 OK")
        status, body = Web(srv, ATTACKER).login(user, pw)
        assert status == 200 and body["username"] == user

        status, _, entries = admin.call("GET", f"/api/admin/security/audit?account={user}")
        unlocked = [e for e in entries if e["action"] == "account.unlocked"]
        assert len(unlocked) == 1, entries
        res = srv.cli("audit", "verify", check=False)
        assert res.returncode == 0 and "Audit log intact" in res.stdout, res.stderr
