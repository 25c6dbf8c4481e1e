"""Durable lockouts and password rotation against a real ``rongmail serve`` (issue 8).

* A lockout earned by brute force is kept in the store (migration 0106): after the server
  restarts on the same data directory the attacker's address is still refused, while the user's
  own network is not locked out.
* Rotation (``security.password_max_age_days``): once the password is older than the limit,
  IMAP, SMTP AUTH and POP3 refuse it with a message pointing to the webmail, an app password
  keeps working, and the web login goes through the forced change-password step.
"""

from __future__ import annotations

import sqlite3
import ssl
import time
from pathlib import Path

import pytest
from identity_helpers import HOME, Web, imap_login, smtp_login, tls

from e2e.conftest import RunningServer, run_server

ATTACKER = "127.0.9.40"


def _age_passwords(srv: RunningServer, days: int) -> None:
    """Pretend the passwords were set ``days`` ago (the clock cannot be moved for a
    subprocess; the row is what rotation reads)."""
    with sqlite3.connect(srv.data_dir / "meta.sqlite3", timeout=30) as db:
        db.execute("UPDATE password_state SET changed_at = changed_at - ?", (days * 86400,))


def _pop3_login(srv: RunningServer, ip: str, user: str, password: str) -> str:
    import poplib

    class Bound(poplib.POP3_SSL):
        def _create_socket(self, timeout: float):  # type: ignore[no-untyped-def, override]
            import socket

            raw = socket.create_connection((self.host, self.port), timeout, source_address=(ip, 0))
            return self.context.wrap_socket(raw, server_hostname=self.host)

    ctx: ssl.SSLContext = tls()
    c = Bound("127.0.0.1", srv.ports["pop3s"], context=ctx, timeout=30)
    try:
        c.user(user)
        return c.pass_(password).decode()
    except poplib.error_proto as e:
        return str(e)
    finally:
        try:
            c.quit()
        except (poplib.error_proto, OSError):
            pass


def test_lockout_survives_a_restart(tmp_path: Path) -> None:
    user, pw = "ma@corp.test", "Ma-pass-2026-xyz"
    with run_server(tmp_path, wait_for=("http", "imaps")) as srv:
        srv.add_user(user, pw)
        attacker = Web(srv, ATTACKER)
        statuses = [attacker.login(user, f"guess-{i}")[0] for i in range(6)]
        assert statuses == [401] * 5 + [429], statuses
        assert imap_login(srv, ATTACKER, user, pw).startswith("a1 NO [LIMIT]")
    with sqlite3.connect(tmp_path / "data" / "meta.sqlite3") as db:
        rows = db.execute(
            "SELECT login, source, failures, blocked_until > ? FROM auth_throttle",
            (int(time.time()),),
        ).fetchall()
    assert (user, ATTACKER, 5, 1) in rows, rows
    with run_server(tmp_path, wait_for=("http", "imaps")) as srv:
        # a new process: the lockout comes from the store, not from memory
        assert Web(srv, ATTACKER).login(user, pw)[0] == 429
        assert imap_login(srv, ATTACKER, user, pw).startswith("a1 NO [LIMIT]")
        # the user's own network was never locked out
        status, body = Web(srv, HOME[30]).login(user, pw)
        assert status == 200 and body["username"] == user
        assert imap_login(srv, HOME[30], user, pw).startswith("a1 OK")


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("rotation")
    env = {
        "RONGMAIL_SECURITY__PASSWORD_MAX_AGE_DAYS": "90",
        "RONGMAIL_SECURITY__RISK__QUIET_HOURS": "[0, 0]",
    }
    with run_server(tmp, wait_for=("http", "imaps", "submissions", "pop3s"), extra_env=env) as s:
        yield s


def test_fresh_password_is_not_expired(rotating: RunningServer) -> None:
    user, pw = "fresh@corp.test", "Fresh-pass-2026-x"
    rotating.add_user(user, pw)
    assert imap_login(rotating, HOME[31], user, pw).startswith("a1 OK")
    assert Web(rotating, HOME[31]).login(user, pw)[0] == 200


def test_expired_password_forces_a_change(rotating: RunningServer) -> None:
    user, pw = "old@corp.test", "Old-pass-2026-xyz"
    rotating.add_user(user, pw)
    web = Web(rotating, HOME[32])
    assert web.login(user, pw)[0] == 200
    status, _, created = web.call(
        "POST",
        "/api/security/app-passwords",
        {"name": "Foxmail", "protocols": ["imap", "smtp", "pop3"]},
    )
    assert status == 201
    app_pw = created["password"]
    _age_passwords(rotating, 91)

    # mail protocols: the account password is refused with a message naming the webmail
    reply = imap_login(rotating, HOME[32], user, pw)
    assert reply.startswith("a1 NO") and "webmail" in reply, reply
    code, text = smtp_login(rotating, HOME[32], user, pw)
    assert code == 535 and "webmail" in text, (code, text)
    pop = _pop3_login(rotating, HOME[32], user, pw)
    assert pop.startswith("b'-ERR") and "webmail" in pop, pop
    # ... and app passwords keep working
    assert imap_login(rotating, HOME[32], user, app_pw).startswith("a1 OK")
    assert smtp_login(rotating, HOME[32], user, app_pw)[0] == 235
    assert _pop3_login(rotating, HOME[32], user, app_pw).startswith("+OK")

    # the web: no session, a ticket for the change-password step
    fresh = Web(rotating, HOME[32])
    status, body = fresh.login(user, pw)
    assert status == 401 and body["passwordExpired"] is True and body["ticket"], body
    assert body["type"] == "about:blank#passwordExpired" and not fresh.cookie
    ticket = body["ticket"]

    def change(new: str, *, who: Web = fresh, tk: str = ticket) -> tuple[int, object]:
        status, _, reply = who.call(
            "POST", "/api/login/change-password", {"ticket": tk, "password": new}
        )
        return status, reply

    status, reply = change("short")
    assert status == 400 and reply["code"] == "password.too_short", reply  # type: ignore[index]
    status, reply = change(pw)
    assert status == 400 and reply["code"] == "password.reused", reply  # type: ignore[index]
    # the ticket is bound to the address it was issued to
    assert change("New-pass-2026-abc", who=Web(rotating, HOME[33]))[0] == 401
    assert change("New-pass-2026-abc", tk="forged")[0] == 401
    status, reply = change("New-pass-2026-abc")
    assert status == 200 and reply["username"] == user, reply  # type: ignore[index]
    fresh.csrf = reply["csrfToken"]  # type: ignore[index]
    assert fresh.call("GET", "/api/me")[0] == 200
    assert change("Another-pass-2026-q")[0] == 401  # single use

    # the new password works everywhere, the old one nowhere
    assert imap_login(rotating, HOME[32], user, "New-pass-2026-abc").startswith("a1 OK")
    assert Web(rotating, HOME[32]).login(user, "New-pass-2026-abc")[0] == 200
    assert Web(rotating, HOME[32]).login(user, pw)[0] == 401
    audit = rotating.cli("audit", "list", "--account", user).stdout
    assert "login.password_expired" in audit and "login.password_changed" in audit, audit
