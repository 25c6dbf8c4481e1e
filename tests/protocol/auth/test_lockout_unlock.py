"""Lockout thresholds from typed configuration and the admin unlock (issue 8), against a real
``rongmail serve``.

* ``[security.lockout]`` (here through ``RONGMAIL_SECURITY__LOCKOUT__*``) replaces the code
  defaults: with ``failures_before_backoff = 2`` the third attempt is already refused (the
  default would allow five failures).
* ``POST /api/admin/security/accounts/{address}/unlock`` clears the account's counters from
  every source (an ordinary user gets 403), the locked source can sign in at once (web and
  IMAP), and the unlock is an entry of the hash-chained audit log, which still verifies.
* ``GET /api/admin/security/lockouts`` lists the blocks in force in the caller's scope: a super
  admin sees every one (a spraying source as login ""), a tenant admin only its tenant's
  accounts, a domain admin only its domain's, an ordinary user gets 403.
"""

from __future__ import annotations

import sqlite3
import time
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


def test_admin_lists_lockouts_in_its_scope(tmp_path: Path) -> None:
    pw = "Qiu-pass-2026-xyz"
    env = {**ENV, "RONGMAIL_SECURITY__LOCKOUT__SPRAYING_LOGINS_PER_SOURCE": "3"}
    with run_server(tmp_path, extra_env=env) as srv:
        srv.cli("domain", "add", "side.test")  # the same tenant as corp.test
        srv.cli("domain", "add", "other.test", "--tenant", "Other Co")
        for user in (
            "qiu@corp.test",
            "dom@corp.test",
            "lan@side.test",
            "far@other.test",
            "boss@other.test",
            "plain@corp.test",
        ):
            srv.add_user(user, pw)
        root = Web(srv, HOME[33])
        assert root.login(srv.admin, srv.password)[0] == 200
        for user, role in (("dom@corp.test", "domain_admin"), ("boss@other.test", "tenant_admin")):
            status, _, body = root.call("PUT", f"/api/admin/users/{user}/role", {"role": role})
            assert status == 200, body

        # pair blocks (2 failures each) from three sources, and one spraying source
        locked = {
            ("qiu@corp.test", "127.0.9.42"),
            ("lan@side.test", "127.0.9.43"),
            ("far@other.test", "127.0.9.44"),
        }
        for user, ip in locked:
            assert [Web(srv, ip).login(user, "guess")[0] for _ in range(3)] == [401, 401, 429]
        sprayer = Web(srv, "127.0.9.45")
        assert [sprayer.login(f"nobody{i}@nowhere.test", "x")[0] for i in range(4)] == [
            401,
            401,
            401,
            429,
        ]
        before = int(time.time())

        def listed(web: Web) -> set[tuple[str, str]]:
            status, _, rows = web.call("GET", "/api/admin/security/lockouts")
            assert status == 200, rows
            for r in rows:
                assert set(r) == {"login", "source", "failures", "blockedUntil"}, r
                assert r["blockedUntil"] > before - 5, r
            return {(r["login"], r["source"]) for r in rows}

        everything = listed(root)
        assert locked <= everything and ("", "127.0.9.45") in everything, everything
        with sqlite3.connect(srv.data_dir / "meta.sqlite3", timeout=30) as db:
            until, failures = db.execute(
                "SELECT blocked_until, failures FROM auth_throttle WHERE login = ?",
                ("qiu@corp.test",),
            ).fetchone()
        status, _, rows = root.call("GET", "/api/admin/security/lockouts")
        [qiu] = [r for r in rows if r["login"] == "qiu@corp.test"]
        assert (
            qiu
            == {
                "login": "qiu@corp.test",
                "source": "127.0.9.42",
                "failures": failures,
                "blockedUntil": until,
            }
            and failures >= 2
        )

        boss = Web(srv, HOME[34])
        assert boss.login("boss@other.test", pw)[0] == 200
        assert listed(boss) == {("far@other.test", "127.0.9.44")}
        dom = Web(srv, HOME[35])
        assert dom.login("dom@corp.test", pw)[0] == 200
        assert listed(dom) == {("qiu@corp.test", "127.0.9.42")}
        plain = Web(srv, HOME[36])
        assert plain.login("plain@corp.test", pw)[0] == 200
        assert plain.call("GET", "/api/admin/security/lockouts")[0] == 403

        # an unlock takes the account off the list
        assert root.call("POST", "/api/admin/security/accounts/qiu@corp.test/unlock")[0] == 200
        assert ("qiu@corp.test", "127.0.9.42") not in listed(root)
