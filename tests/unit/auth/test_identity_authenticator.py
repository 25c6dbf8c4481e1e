"""The one auth port with the identity layer: app passwords scoped per protocol, the account
password refused where a second factor cannot be asked, risk scoring (step-up on the web,
refusal + admin alert on IMAP/SMTP, freeze on country hopping), allowed networks, and every
decision in the audit log with its reasons."""

from __future__ import annotations

import email
import email.policy
import json
import time

import pyotp
import pytest

from rongmail.actions import auth as aa
from rongmail.errors import AuthError, RateLimited, ValidationError
from rongmail.services.auth.audit import verify_chain
from rongmail.services.auth.authenticate import StepUpRequired
from rongmail.store.sql import auth as sa

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
PW = "Li-pass-2026-x"
CN, US, JP = "127.0.0.1", "127.0.2.1", "127.0.3.1"
US2 = "127.0.5.1"  # another network in the same country


async def _audit(sec, account_id=None):  # type: ignore[no-untyped-def]
    rows = await sec.ctx.meta.read(sa.search_audit(account_id=account_id, limit=1000))
    return [(e.action, e.outcome, json.loads(e.detail)) for e in reversed(rows)]


async def _enrol_totp(sec) -> str:  # type: ignore[no-untyped-def]
    secret, uri = await aa.do_begin_totp(sec.ctx, sec.key, sec.user, issuer="RongMail")
    assert uri.startswith("otpauth://totp/") and "li%40demo.test" in uri
    prev = pyotp.TOTP(secret).at(time.time() - 30)  # a code from the previous step
    codes = await aa.do_confirm_totp(sec.ctx, sec.key, sec.user, prev)
    assert len(codes) == 10
    return secret


async def test_app_password_is_scoped_per_protocol(sec) -> None:  # type: ignore[no-untyped-def]
    secret, row = await aa.do_create_app_password(sec.ctx, sec.key, sec.user, "Foxmail",
                                                  ["imap", "smtp"])
    r = await sec.auth.authenticate("li@demo.test", secret, protocol="imap", remote_ip=CN)
    assert r.method == "app_password"
    r = await sec.auth.authenticate("li@demo.test", secret, protocol="smtp", remote_ip=CN)
    assert r.method == "app_password"
    for proto in ("pop3", "web", "jmap"):
        with pytest.raises(AuthError):
            await sec.auth.authenticate("li@demo.test", secret, protocol=proto, remote_ip=CN)
    rows = await sec.ctx.meta.read(sa.list_app_passwords(sec.user.id))
    assert rows[0].last_ip == CN and rows[0].last_used_at > 0
    log = await _audit(sec, sec.user.id)
    assert ("login.app_password", "refused",
            {"app_password": row.id, "protocol": "pop3", "reason": "scope"}) in log
    assert all(secret not in json.dumps(d) for _, _, d in log)
    await aa.do_delete_app_password(sec.ctx, sec.key, sec.user, row.id)
    with pytest.raises(AuthError):
        await sec.auth.authenticate("li@demo.test", secret, protocol="imap", remote_ip=CN)


async def test_totp_accounts_need_app_passwords_on_mail_protocols(sec) -> None:  # type: ignore[no-untyped-def]
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    await _enrol_totp(sec)
    with pytest.raises(AuthError) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    assert e.value.key == "auth.app_password_required"
    # the web is interactive: a normal-risk login needs no second factor
    r = await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=CN)
    assert r.method == "password"
    secret, _ = await aa.do_create_app_password(sec.ctx, sec.key, sec.user, "phone", ["imap"])
    assert (await sec.auth.authenticate("li@demo.test", secret, protocol="imap",
                                        remote_ip=CN)).method == "app_password"


async def test_new_country_steps_up_on_the_web(sec) -> None:  # type: ignore[no-untyped-def]
    totp_secret = await _enrol_totp(sec)
    ok = await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=CN,
                                     user_agent="Firefox")
    assert ok.reasons == ()
    with pytest.raises(StepUpRequired) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=US,
                                    user_agent="Firefox")
    ticket = e.value.ticket
    assert e.value.methods == ("totp", "recovery")
    # the challenge is bound to the IP that got it
    with pytest.raises(AuthError) as bad:
        await sec.auth.complete_step_up(ticket, pyotp.TOTP(totp_secret).now(), remote_ip=JP)
    assert bad.value.key == "auth.step_up_expired"
    with pytest.raises(AuthError) as bad:
        await sec.auth.complete_step_up(ticket, "000000", remote_ip=US)
    assert bad.value.key == "auth.step_up_failed"
    code = pyotp.TOTP(totp_secret).now()
    r = await sec.auth.complete_step_up(ticket, code, remote_ip=US)
    assert r.method == "password+totp"
    assert {"new_country", "impossible_travel"} <= set(r.reasons)
    # a code is never accepted twice (RFC 6238 §5.2)
    with pytest.raises(StepUpRequired) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=US2)
    with pytest.raises(AuthError):
        await sec.auth.complete_step_up(e.value.ticket, code, remote_ip=US2)
    # once confirmed, the place is known: no step-up next time
    await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=US)
    log = await _audit(sec, sec.user.id)
    step = [d for a, o, d in log if a == "login.step_up" and o == "challenge"][0]
    assert step["country"] == "US" and "new_country" in step["reasons"]
    assert step["decision"] == "step_up"


async def test_recovery_code_answers_a_step_up_once(sec) -> None:  # type: ignore[no-untyped-def]
    secret, _ = await aa.do_begin_totp(sec.ctx, sec.key, sec.user, issuer="RongMail")
    codes = await aa.do_confirm_totp(sec.ctx, sec.key, sec.user, pyotp.TOTP(secret).now())
    await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=CN)
    with pytest.raises(StepUpRequired) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=US)
    r = await sec.auth.complete_step_up(e.value.ticket, codes[0].lower(), remote_ip=US)
    assert r.method == "password+recovery"
    with pytest.raises(StepUpRequired) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="web", remote_ip=US2)
    with pytest.raises(AuthError):
        await sec.auth.complete_step_up(e.value.ticket, codes[0], remote_ip=US2)
    assert await sec.ctx.meta.read(sa.recovery_codes_left(sec.user.id)) == 9


async def test_new_country_is_refused_on_imap_and_admins_alerted(sec) -> None:  # type: ignore[no-untyped-def]
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    with pytest.raises(AuthError) as e:
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=US)
    assert e.value.key == "auth.risk_refused"
    assert "app password" in e.value.public("en")
    # the admin got a mail in their inbox
    inbox = await sec.reader.mailbox_by_role(sec.admin.id, "inbox")
    entries = await sec.reader.mailbox_entries(inbox.id)
    assert len(entries) == 1
    (msg,) = await sec.reader.messages(sec.admin.id, [entries[0].message_id])
    raw = await sec.reader.message_bytes(sec.tenant.id, msg.blob_id)
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Auto-Submitted"] == "auto-generated" and b"\r\n" in raw
    assert "li@demo.test" in mail["Subject"] and "li@demo.test" in mail.get_content()
    log = await _audit(sec, sec.user.id)
    refused = [d for a, o, d in log if a == "login.refused"][0]
    assert refused["country"] == "US" and "new_country" in refused["reasons"]
    assert any(a == "alert.risky_login_refused" for a, _, _ in log)
    # an app password still works from there (the user's phone abroad)
    secret, _ = await aa.do_create_app_password(sec.ctx, sec.key, sec.user, "phone", ["imap"])
    r = await sec.auth.authenticate("li@demo.test", secret, protocol="imap", remote_ip=US)
    assert r.method == "app_password" and "new_country" in r.reasons
    # and the real user at home is unaffected
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)


async def test_three_countries_in_an_hour_freeze_the_account(sec) -> None:  # type: ignore[no-untyped-def]
    secret, _ = await aa.do_create_app_password(sec.ctx, sec.key, sec.user, "phone", ["imap"])
    token, _ = await __import__("rongmail.actions.jmap", fromlist=["x"]).do_create_token(
        sec.ctx, sec.user.id, kind="session")
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    await sec.auth.authenticate("li@demo.test", secret, protocol="imap", remote_ip=US)
    with pytest.raises(AuthError) as e:
        await sec.auth.authenticate("li@demo.test", secret, protocol="imap", remote_ip=JP)
    assert e.value.key == "auth.frozen"
    assert await sec.ctx.meta.read(sa.frozen(sec.user.id)) is not None
    assert await sec.ctx.meta.read(sa.sessions(sec.user.id, int(time.time()))) == []
    with pytest.raises(AuthError) as e:  # frozen everywhere, even from home
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    assert e.value.key == "auth.frozen"
    log = await _audit(sec, sec.user.id)
    assert ("account.frozen", "ok") in [(a, o) for a, o, _ in log]
    frozen = [d for a, o, d in log if a == "login.refused" and o == "frozen"][0]
    assert "country_hopping" in frozen["reasons"]
    assert any(a == "alert.account_frozen" for a, _, _ in log)
    await aa.do_unfreeze_account(sec.ctx, sec.key, sec.user, actor_id=sec.admin.id)
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    assert (await verify_chain(sec.ctx.meta, sec.key)).ok


async def test_allowed_networks_per_tenant_and_role(sec) -> None:  # type: ignore[no-untyped-def]
    await aa.do_set_allowed_networks(sec.ctx, sec.key, sec.tenant.id, "tenant_admin",
                                     ["10.0.0.0/8"])
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    with pytest.raises(AuthError) as e:
        await sec.auth.authenticate("boss@demo.test", "Boss-pass-2026-x", protocol="web",
                                    remote_ip=CN)
    assert e.value.key == "auth.network_refused"
    await aa.do_set_allowed_networks(sec.ctx, sec.key, sec.tenant.id, "", ["127.0.0.0/30"])
    with pytest.raises(AuthError):
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.9")
    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip=CN)
    with pytest.raises(ValidationError):
        await aa.do_set_allowed_networks(sec.ctx, sec.key, sec.tenant.id, "", ["not-a-net"])


async def test_wrong_password_is_audited_and_throttled_per_ip(sec) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        with pytest.raises(AuthError):
            await sec.auth.authenticate("li@demo.test", "wrong", protocol="smtp",
                                        remote_ip="127.0.0.9")
    with pytest.raises(RateLimited):
        await sec.auth.authenticate("li@demo.test", PW, protocol="smtp", remote_ip="127.0.0.9")
    # the burst counts as a risk signal, but alone it does not lock the real user out
    r = await sec.auth.authenticate("li@demo.test", PW, protocol="smtp", remote_ip=CN)
    assert "failure_burst" in r.reasons
    log = await _audit(sec, sec.user.id)
    assert sum(1 for a, _, _ in log if a == "login.failed") == 5
    assert all("wrong" not in json.dumps(d) for _, _, d in log)
