"""The throttling state in the store (``store.sql.lockout``, migration 0106) on SQLite and
PostgreSQL, and password rotation through the one authenticator.

Two :class:`Authenticator` instances over the same store stand for two nodes of a cluster:
what one node counts, the other enforces.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from rongmail.actions import accounts as acc
from rongmail.actions.lockouts import StoreThrottle, do_purge_throttle
from rongmail.errors import AuthError, RateLimited, ValidationError
from rongmail.services.auth.authenticate import (
    Authenticator,
    PasswordExpired,
    SecurityDeps,
    ThrottlePolicy,
)
from rongmail.store.sql import lockout as lk

POLICY = ThrottlePolicy(
    lock_after=3, base_delay=60, max_delay=600, ip_accounts=4, ip_block=900, forget_after=3600
)
RULE = POLICY.rule()
PW = "Lin-pass-2026-xyz"


async def _user(stack: Any, address: str = "lin@demo.test") -> Any:
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    return await acc.do_create_account(stack.ctx, address, PW)


@pytest.mark.postgres
async def test_ops_count_block_and_clear(stack: Any) -> None:
    meta, now = stack.ctx.meta, int(time.time())
    for i in range(1, 3):
        st = await meta.write(lk.fail("a@x.test", "10.0.0.1", now, RULE))
        assert st == lk.ThrottleState(0, 0, i)
    st = await meta.write(lk.fail("a@x.test", "10.0.0.1", now, RULE))
    assert st.pair_blocked_until == now + 60 and st.source_blocked_until == 0
    st = await meta.write(lk.fail("a@x.test", "10.0.0.1", now, RULE))
    assert st.pair_blocked_until == now + 120  # exponential back-off
    # another source is untouched
    assert await meta.read(lk.state("a@x.test", "10.0.0.2")) == lk.ThrottleState()
    # a failure after the forget time starts a new run
    st = await meta.write(lk.fail("a@x.test", "10.0.0.1", now + 4000, RULE))
    assert st.pair_failures == 1
    await meta.write(lk.clear_pair("a@x.test", "10.0.0.1"))
    assert await meta.read(lk.state("a@x.test", "10.0.0.1")) == lk.ThrottleState()


@pytest.mark.postgres
async def test_ops_spraying_blocks_the_source(stack: Any) -> None:
    meta, now = stack.ctx.meta, int(time.time())
    for i in range(3):
        st = await meta.write(lk.fail(f"u{i}@x.test", "10.0.0.9", now, RULE))
        assert st.source_blocked_until == 0
    st = await meta.write(lk.fail("u3@x.test", "10.0.0.9", now, RULE))
    assert st.source_blocked_until == now + 900
    assert (
        await meta.read(lk.state("someone@x.test", "10.0.0.9"))
    ).source_blocked_until == now + 900
    assert await meta.read(lk.failed_logins("10.0.0.9", now - 10)) == 4
    assert [r[0] for r in await meta.read(lk.blocked("10.0.0.9", now))] == [""]
    # purge drops idle counters but never a block in force
    assert await meta.write(lk.purge(now + 1, now)) == 4
    assert (await meta.read(lk.state("x", "10.0.0.9"))).source_blocked_until == now + 900
    assert await do_purge_throttle(stack.ctx, before=now + 10_000) == 0


@pytest.mark.postgres
async def test_concurrent_failures_all_count(stack: Any) -> None:
    """Atomic increments: 12 failures at once from several writers all count."""
    now = int(time.time())
    rule = lk.FailureRule(100, 60, 600, 100, 900, 3600)
    await asyncio.gather(
        *(stack.ctx.meta.write(lk.fail("c@x.test", "10.0.1.1", now, rule)) for _ in range(12))
    )
    assert (await stack.ctx.meta.read(lk.state("c@x.test", "10.0.1.1"))).pair_failures == 12


@pytest.mark.postgres
async def test_two_nodes_share_lockouts(stack: Any) -> None:
    await _user(stack)
    node_a = Authenticator(stack.reader, POLICY, throttle=StoreThrottle(stack.ctx))
    node_b = Authenticator(stack.reader, POLICY, throttle=StoreThrottle(stack.ctx))
    for _ in range(3):
        with pytest.raises(AuthError):
            await node_a.authenticate(
                "lin@demo.test", "wrong-guess", protocol="imap", remote_ip="198.51.100.7"
            )
    with pytest.raises(RateLimited):  # the other node knows
        await node_b.authenticate("lin@demo.test", PW, protocol="imap", remote_ip="198.51.100.7")
    # the user's own network is not locked out, on either node
    ok = await node_b.authenticate("LIN@demo.test", PW, protocol="imap", remote_ip="192.0.2.5")
    assert ok.account.address == "lin@demo.test"
    # IPv6: the whole /64 shares one counter
    for suffix in ("1", "2", "3"):
        with pytest.raises(AuthError):
            await node_a.authenticate(
                "lin@demo.test", "nope", protocol="smtp", remote_ip=f"2001:db8:1:2::{suffix}"
            )
    with pytest.raises(RateLimited):
        await node_b.authenticate(
            "lin@demo.test", PW, protocol="smtp", remote_ip="2001:db8:1:2::99"
        )


@pytest.mark.postgres
async def test_success_clears_the_pair_counter(stack: Any) -> None:
    await _user(stack)
    node_a = Authenticator(stack.reader, POLICY, throttle=StoreThrottle(stack.ctx))
    for _ in range(2):
        with pytest.raises(AuthError):
            await node_a.authenticate(
                "lin@demo.test", "typo", protocol="imap", remote_ip="192.0.2.9"
            )
    # a fresh process (restart) sees the two failures and clears them on success
    node_b = Authenticator(stack.reader, POLICY, throttle=StoreThrottle(stack.ctx))
    await node_b.authenticate("lin@demo.test", PW, protocol="imap", remote_ip="192.0.2.9")
    st = await stack.ctx.meta.read(lk.state("lin@demo.test", "192.0.2.9"))
    assert st.pair_failures == 0


# -- password rotation --------------------------------------------------------------------------


def _secure(stack: Any, days: int) -> Authenticator:
    from rongmail.actions.auth import AuthRecorder
    from rongmail.config.security import RiskSettings, SecuritySettings
    from rongmail.services.auth.geoip import GeoIp

    settings = SecuritySettings(password_max_age_days=days, risk=RiskSettings(quiet_hours=(0, 0)))
    deps = SecurityDeps(settings, AuthRecorder(stack.ctx, secrets.token_bytes(32)), GeoIp(None))
    return Authenticator(stack.reader, POLICY, security=deps, throttle=StoreThrottle(stack.ctx))


@pytest.mark.postgres
async def test_password_age_is_recorded_and_enforced(stack: Any) -> None:
    user = await _user(stack)
    changed = await stack.ctx.meta.read(lk.password_changed_at(user.id))
    assert changed is not None and abs(changed - time.time()) < 60
    auth = _secure(stack, 30)
    await auth.authenticate(user.address, PW, protocol="imap", remote_ip="192.0.2.1")
    await stack.ctx.meta.write(lk.set_password_changed(user.id, int(time.time()) - 31 * 86400))
    with pytest.raises(PasswordExpired) as mail:
        await auth.authenticate(user.address, PW, protocol="imap", remote_ip="192.0.2.1")
    assert not mail.value.ticket and "webmail" in mail.value.public("en")
    assert mail.value.public("zh-CN") != mail.value.public("en")
    # off (0) means never
    await _secure(stack, 0).authenticate(user.address, PW, protocol="imap", remote_ip="192.0.2.1")
    # the web gets a ticket; a change through it records a new age
    with pytest.raises(PasswordExpired) as web:
        await auth.authenticate(user.address, PW, protocol="web", remote_ip="192.0.2.1")
    assert web.value.ticket

    async def store(account: Any, password: str) -> None:
        await acc.do_set_password(stack.ctx, account.address, password)

    with pytest.raises(ValidationError):
        await auth.change_expired_password(
            web.value.ticket, "123", remote_ip="192.0.2.1", store=store
        )
    result = await auth.change_expired_password(
        web.value.ticket, "Fresh-pass-2026-q", remote_ip="192.0.2.1", store=store
    )
    assert result.account.id == user.id and result.protocol == "web"
    changed = await stack.ctx.meta.read(lk.password_changed_at(user.id))
    assert changed is not None and abs(changed - time.time()) < 60
    await auth.authenticate(
        user.address, "Fresh-pass-2026-q", protocol="imap", remote_ip="192.0.2.1"
    )


@pytest.mark.postgres
async def test_tenant_policy_max_age_applies_when_stricter(stack: Any) -> None:
    from rongmail.actions import admin as act

    user = await _user(stack)
    await act.do_set_password_policy(
        stack.ctx, act.SYSTEM, user.tenant_id, min_length=8, min_classes=1, max_age_days=7
    )
    await stack.ctx.meta.write(lk.set_password_changed(user.id, int(time.time()) - 8 * 86400))
    with pytest.raises(PasswordExpired):  # server setting 90, tenant 7: the stricter wins
        await _secure(stack, 90).authenticate(
            user.address, PW, protocol="pop3", remote_ip="192.0.2.1"
        )
    with pytest.raises(PasswordExpired):  # server setting off: the tenant policy alone
        await _secure(stack, 0).authenticate(
            user.address, PW, protocol="pop3", remote_ip="192.0.2.1"
        )
