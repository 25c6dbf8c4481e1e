"""Password history (tenant policy ``history``, migration 0206) on SQLite and PostgreSQL.

With ``history`` = N a new password may not be any of the last N, the current one included,
whether it is set directly (``actions.accounts.do_set_password``: admin reset, CLI) or through
the forced change of an expired password (``Authenticator.change_expired_password``, the path
of ``POST /api/login/change-password``). Older passwords become usable again, at most
``PASSWORD_HISTORY_KEEP`` previous hashes are kept, and they go with the account.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions import admin as act
from rongmail.actions.lockouts import StoreThrottle
from rongmail.errors import ValidationError
from rongmail.services.auth.authenticate import Authenticator, PasswordExpired, SecurityDeps
from rongmail.store.sql import directory as d
from rongmail.store.sql import lockout as lk
from rongmail.store.sql.q import Q

PW = "Wen-pass-2026-xyz"
A, B, C = "Alpha-pass-2026-a", "Bravo-pass-2026-b", "Charlie-pass-2026-c"


async def _user(stack: Any, history: int) -> Any:
    t = await acc.do_create_tenant(stack.ctx, "hist")
    await acc.do_create_domain(stack.ctx, t.id, "hist.test")
    user = await acc.do_create_account(stack.ctx, "wen@hist.test", PW)
    await act.do_set_password_policy(
        stack.ctx, act.SYSTEM, t.id, min_length=8, min_classes=1, history=history
    )
    return user


async def _refused(stack: Any, password: str) -> str:
    with pytest.raises(ValidationError) as exc:
        await acc.do_set_password(stack.ctx, "wen@hist.test", password)
    return exc.value.key


def _count(account_id: int) -> Any:
    rows = yield Q("SELECT COUNT(*) FROM password_history WHERE account_id = ?", (account_id,))
    return int(rows[0][0])


async def _rows(stack: Any, account_id: int) -> int:
    return int(await stack.ctx.meta.read(_count(account_id)))


@pytest.mark.postgres
async def test_set_password_refuses_the_last_n(stack: Any) -> None:
    user = await _user(stack, history=3)
    assert await _refused(stack, PW) == "password.reused_history"  # the current one
    await acc.do_set_password(stack.ctx, user.address, A)
    await acc.do_set_password(stack.ctx, user.address, B)
    # the last three: B (current), A, PW
    for old in (B, A, PW):
        assert await _refused(stack, old) == "password.reused_history"
    await acc.do_set_password(stack.ctx, user.address, C)
    # now C, B, A: the first password has left the window
    await acc.do_set_password(stack.ctx, user.address, PW)
    assert await _refused(stack, C) == "password.reused_history"
    msg = ValidationError("password.reused_history", count=3)
    assert "3" in msg.public("en") and msg.public("zh-CN") != msg.public("en")
    assert await _rows(stack, user.id) == 4  # PW, A, B, C were replaced


@pytest.mark.postgres
async def test_no_history_policy_keeps_the_old_behaviour(stack: Any) -> None:
    user = await _user(stack, history=0)
    await acc.do_set_password(stack.ctx, user.address, PW)  # the same again: allowed
    await act.do_set_password_policy(
        stack.ctx, act.SYSTEM, user.tenant_id, min_length=8, min_classes=1, history=1
    )
    assert await _refused(stack, PW) == "password.reused_history"
    await acc.do_set_password(stack.ctx, user.address, A)
    await acc.do_set_password(stack.ctx, user.address, PW)  # only the current one counts


@pytest.mark.postgres
async def test_history_is_bounded_and_goes_with_the_account(stack: Any) -> None:
    user = await _user(stack, history=0)
    for i in range(d.PASSWORD_HISTORY_KEEP + 2):
        await acc.do_set_password(stack.ctx, user.address, f"Rotate-pass-2026-{i:02d}")
    assert await _rows(stack, user.id) == d.PASSWORD_HISTORY_KEEP
    newest = await stack.ctx.meta.read(d.previous_password_hashes(user.id, 2))
    assert len(newest) == 2 and all(h.startswith("$argon2id$") for h in newest)
    await acc.do_delete_account(stack.ctx, user.address)
    assert await _rows(stack, user.id) == 0


@pytest.mark.postgres
async def test_change_expired_password_enforces_history(stack: Any) -> None:
    from rongmail.actions.auth import AuthRecorder
    from rongmail.config.security import RiskSettings, SecuritySettings
    from rongmail.services.auth.geoip import GeoIp

    user = await _user(stack, history=2)
    await acc.do_set_password(stack.ctx, user.address, A)  # previous: PW
    await stack.ctx.meta.write(lk.set_password_changed(user.id, int(time.time()) - 40 * 86400))
    settings = SecuritySettings(password_max_age_days=30, risk=RiskSettings(quiet_hours=(0, 0)))
    deps = SecurityDeps(settings, AuthRecorder(stack.ctx, secrets.token_bytes(32)), GeoIp(None))
    auth = Authenticator(stack.reader, security=deps, throttle=StoreThrottle(stack.ctx))
    with pytest.raises(PasswordExpired) as exp:
        await auth.authenticate(user.address, A, protocol="web", remote_ip="192.0.2.9")

    async def store(
        account: Any, password: str
    ) -> None:  # what POST /api/login/change-password does
        await act.check_tenant_password(stack.ctx, account.tenant_id, password)
        await acc.do_set_password(stack.ctx, account.address, password, check_password=False)

    with pytest.raises(ValidationError) as same:
        await auth.change_expired_password(exp.value.ticket, A, remote_ip="192.0.2.9", store=store)
    assert same.value.key == "password.reused"
    with pytest.raises(ValidationError) as old:
        await auth.change_expired_password(exp.value.ticket, PW, remote_ip="192.0.2.9", store=store)
    assert old.value.key == "password.reused_history"
    # the ticket survived both refusals
    result = await auth.change_expired_password(
        exp.value.ticket, B, remote_ip="192.0.2.9", store=store
    )
    assert result.account.id == user.id
    await auth.authenticate(user.address, B, protocol="imap", remote_ip="192.0.2.9")
