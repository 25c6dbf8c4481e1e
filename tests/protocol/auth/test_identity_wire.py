"""The identity layer over real sockets against ``rongmail serve``: brute force from one IP
and from many IPs against IMAP, SMTP AUTH and the web login; a login from a new country steps
up on the web (TOTP) and is refused over IMAP with an admin alert (mail + webhook); app
passwords scoped per protocol; sessions list, remote sign-out with wipe; the audit chain
verifies afterwards."""

from __future__ import annotations

import time

import pyotp
from identity_helpers import DE, HOME, JP, US, Hooks, Web, imap_login, smtp_login

from e2e.conftest import RunningServer


def _user(srv: RunningServer, name: str) -> tuple[str, str]:
    address, password = f"{name}@corp.test", f"{name.capitalize()}-pass-2026-x"
    srv.add_user(address, password)
    return address, password


def test_web_brute_force_from_one_ip_does_not_lock_out_the_user(srv: RunningServer) -> None:
    user, pw = _user(srv, "zhao")
    attacker = Web(srv, "127.0.9.1")
    statuses = [attacker.login(user, f"guess-{i}")[0] for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    # the right password from the attacker's address is refused too while throttled
    assert attacker.login(user, pw)[0] == 429
    # the real user, from home, is not locked out
    home = Web(srv, HOME[1])
    status, body = home.login(user, pw)
    assert status == 200 and body["username"] == user


def test_web_brute_force_from_many_ips(srv: RunningServer) -> None:
    user, pw = _user(srv, "qian")
    for i in range(1, 13):  # a botnet: two guesses from each of twelve addresses
        bot = Web(srv, f"127.0.10.{i}")
        assert [bot.login(user, f"guess-{i}-{j}")[0] for j in range(2)] == [401, 401]
    # each address only earns its own back-off; the user still gets in from home
    status, _ = Web(srv, HOME[2]).login(user, pw)
    assert status == 200


def test_password_spraying_blocks_the_source_ip(srv: RunningServer) -> None:
    sprayer = Web(srv, "127.0.9.2")
    for i in range(10):
        assert sprayer.login(f"nobody{i}@corp.test", "Spring2026!")[0] in (401, 429)
    user, pw = _user(srv, "sun")
    assert sprayer.login(user, pw)[0] == 429
    assert Web(srv, HOME[3]).login(user, pw)[0] == 200


def test_imap_brute_force_backoff_is_per_ip(srv: RunningServer) -> None:
    user, pw = _user(srv, "zhou")
    replies = [imap_login(srv, "127.0.9.3", user, f"guess{i}") for i in range(6)]
    assert all(r.startswith("a1 NO [AUTHENTICATIONFAILED]") for r in replies[:5]), replies
    assert replies[5].startswith("a1 NO [LIMIT]"), replies
    assert imap_login(srv, "127.0.9.3", user, pw).startswith("a1 NO [LIMIT]")
    assert imap_login(srv, HOME[4], user, pw).startswith("a1 OK")


def test_smtp_auth_brute_force_backoff_is_per_ip(srv: RunningServer) -> None:
    user, pw = _user(srv, "wu")
    codes = [smtp_login(srv, "127.0.9.4", user, f"guess{i}")[0] for i in range(6)]
    assert codes[:5] == [535] * 5 and codes[5] in (451, 454), codes
    assert smtp_login(srv, "127.0.9.4", user, pw)[0] in (451, 454)
    assert smtp_login(srv, HOME[5], user, pw)[0] == 235


def test_new_country_steps_up_on_the_web_with_totp(srv: RunningServer) -> None:
    user, pw = _user(srv, "zheng")
    home = Web(srv, HOME[6])
    assert home.login(user, pw)[0] == 200
    status, _, started = home.call("POST", "/api/security/totp/begin")
    assert status == 200 and started["uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(started["secret"])
    status, _, done = home.call("POST", "/api/security/totp/confirm",
                                {"code": totp.at(time.time() - 30)})
    assert status == 200 and len(done["recoveryCodes"]) == 10
    status, _, overview = home.call("GET", "/api/security")
    assert overview["totp"] == "on" and overview["recoveryCodesLeft"] == 10

    abroad = Web(srv, US)
    status, body = abroad.login(user, pw)
    assert status == 401 and body["stepUp"] == "totp" and not abroad.cookie
    assert abroad.step_up(body["ticket"], "000000")[0] == 401
    status, me = abroad.step_up(body["ticket"], totp.now())
    assert status == 200 and me["username"] == user
    status, _, me = abroad.call("GET", "/api/me")
    assert status == 200 and me["username"] == user
    # IMAP with the account password is refused for an account with a second factor
    reply = imap_login(srv, HOME[6], user, pw)
    assert reply.startswith("a1 NO") and "app password" in reply


def test_new_country_refused_over_imap_with_admin_alert(srv: RunningServer,
                                                        hooks: Hooks) -> None:
    user, pw = _user(srv, "wang")
    assert imap_login(srv, HOME[7], user, pw).startswith("a1 OK")
    hooks.event.clear()
    reply = imap_login(srv, JP, user, pw)
    assert reply.startswith("a1 NO") and "unusual location" in reply, reply
    assert hooks.event.wait(10)
    alert = [h for h in hooks.received if h["account"] == user][-1]
    assert alert["event"] == "risky_login_refused" and alert["remote"] == JP
    assert "new_country" in alert["detail"]["reasons"] and alert["detail"]["country"] == "JP"
    # SMTP AUTH from there is refused too; the user at home is unaffected
    assert smtp_login(srv, JP, user, pw)[0] == 535
    assert smtp_login(srv, HOME[7], user, pw)[0] == 235
    # the admin finds the alert in their inbox (over IMAP, from the office)
    import imaplib

    class Imap(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):  # type: ignore[no-untyped-def]
            import socket
            import ssl

            raw = socket.create_connection((self.host, self.port), timeout,
                                           source_address=(HOME[0], 0))
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx.wrap_socket(raw, server_hostname=self.host)

    m = Imap("127.0.0.1", srv.ports["imaps"])
    m.login(srv.admin, srv.password)
    m.select("INBOX")
    _, data = m.search(None, "SUBJECT", f'"{user}"')
    assert data[0].split(), "no alert mail in the admin's inbox"
    m.logout()


def test_app_passwords_scoped_and_revoked_with_the_lost_phone(srv: RunningServer) -> None:
    user, pw = _user(srv, "feng")
    laptop = Web(srv, HOME[8], ua="Laptop browser")
    phone = Web(srv, HOME[8], ua="Phone PWA")
    assert laptop.login(user, pw)[0] == 200 and phone.login(user, pw)[0] == 200
    status, _, created = laptop.call("POST", "/api/security/app-passwords",
                                     {"name": "Foxmail on phone", "protocols": ["imap"]})
    assert status == 201 and len(created["password"]) == 19
    app_pw = created["password"]
    assert imap_login(srv, HOME[8], user, app_pw).startswith("a1 OK")
    assert smtp_login(srv, HOME[8], user, app_pw)[0] == 535  # not scoped for SMTP
    status, _, listed = laptop.call("GET", "/api/security/app-passwords")
    assert [a["name"] for a in listed] == ["Foxmail on phone"] and "password" not in listed[0]

    status, _, sessions = laptop.call("GET", "/api/security/sessions")
    assert status == 200 and len(sessions) == 2
    mine = [s for s in sessions if s["current"]][0]
    lost = [s for s in sessions if not s["current"]][0]
    assert mine["userAgent"] == "Laptop browser" and lost["userAgent"] == "Phone PWA"
    assert lost["ip"] == HOME[8] and lost["country"] == "CN"
    status, _, _ = laptop.call("POST", f"/api/security/sessions/{lost['id']}/revoke",
                               {"wipe": True, "revokeAppPasswords": True})
    assert status == 200
    # the phone's next contact: refused, and told to wipe its data
    status, headers, _ = phone.call("GET", "/api/me")
    assert status == 401
    assert headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert imap_login(srv, HOME[8], user, app_pw).startswith("a1 NO")
    # the laptop's session is untouched
    assert laptop.call("GET", "/api/me")[0] == 200
    # without the CSRF token a write is refused
    csrf, laptop.csrf = laptop.csrf, ""
    assert laptop.call("POST", "/api/security/app-passwords",
                       {"name": "x", "protocols": ["imap"]})[0] == 403
    laptop.csrf = csrf


def test_country_hopping_freezes_and_revokes(srv: RunningServer, hooks: Hooks) -> None:
    user, pw = _user(srv, "chen")
    home = Web(srv, HOME[9])
    assert home.login(user, pw)[0] == 200
    status, _, created = home.call("POST", "/api/security/app-passwords",
                                   {"name": "mbsync", "protocols": ["imap"]})
    app_pw = created["password"]
    assert imap_login(srv, US, user, app_pw).startswith("a1 OK")  # app passwords roam
    hooks.event.clear()
    assert imap_login(srv, DE, user, app_pw).startswith("a1 NO")  # third country in an hour
    assert home.call("GET", "/api/me")[0] == 401  # its web session was revoked
    assert home.login(user, pw)[0] == 401
    assert hooks.event.wait(10)
    assert any(h["event"] == "account_frozen" and h["account"] == user for h in hooks.received)
    admin = Web(srv, HOME[0])
    assert admin.login(srv.admin, srv.password)[0] == 200
    status, _, info = admin.call("GET", f"/api/admin/security/accounts/{user}")
    assert status == 200 and info["frozen"]["reason"].startswith("risk:")
    assert admin.call("POST", f"/api/admin/security/accounts/{user}/unfreeze")[0] == 200
    assert home.login(user, pw)[0] == 200
    status, _, entries = admin.call("GET", f"/api/admin/security/audit?account={user}")
    actions = [e["action"] for e in entries]
    assert "account.frozen" in actions and "account.unfrozen" in actions
    # an ordinary user may not read the audit log
    assert home.call("GET", "/api/admin/security/audit")[0] == 403


def test_allowed_networks_api_is_admin_only(srv: RunningServer) -> None:
    user, pw = _user(srv, "he")
    plain = Web(srv, HOME[10])
    assert plain.login(user, pw)[0] == 200
    body = {"role": "auditor", "cidrs": ["10.0.0.0/8", "192.0.2.7"]}
    assert plain.call("PUT", "/api/admin/security/networks", body)[0] == 403
    admin = Web(srv, HOME[0])
    assert admin.login(srv.admin, srv.password)[0] == 200
    status, _, saved = admin.call("PUT", "/api/admin/security/networks", body)
    assert status == 200 and saved["cidrs"] == ["10.0.0.0/8", "192.0.2.7/32"]
    assert admin.call("PUT", "/api/admin/security/networks",
                      {"role": "auditor", "cidrs": ["not-a-network"]})[0] == 400
    status, _, rows = admin.call("GET", "/api/admin/security/networks")
    assert {"role": "auditor", "cidr": "10.0.0.0/8"} in rows


def test_audit_chain_verifies_after_everything(srv: RunningServer) -> None:
    res = srv.cli("audit", "verify", check=False)
    assert res.returncode == 0, res.stderr
    assert "Audit log intact" in res.stdout
