"""Throttling of the authentication port: per (account, IP) back-off, spraying block, and no
lock-out of the real user from another IP."""

from __future__ import annotations

import pytest

from rongmail.actions import accounts as acc
from rongmail.errors import AuthError, RateLimited
from rongmail.services.auth.authenticate import Authenticator, ThrottlePolicy


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_backoff_is_per_ip_and_spraying_blocks_ip(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    await acc.do_create_account(stack.ctx, "boss@demo.test", "Right-pass-1")
    auth = Authenticator(stack.reader, ThrottlePolicy(lock_after=3, base_delay=60, ip_accounts=4))
    for _ in range(3):
        with pytest.raises(AuthError):
            await auth.authenticate("boss@demo.test", "wrong", protocol="imap",
                                    remote_ip="203.0.113.9")
    # attacker's IP is now throttled even with the right password...
    with pytest.raises(RateLimited):
        await auth.authenticate("boss@demo.test", "Right-pass-1", protocol="imap",
                                remote_ip="203.0.113.9")
    # ...but the real user from the office network is not locked out
    r = await auth.authenticate("BOSS@demo.test", "Right-pass-1", protocol="imap",
                                remote_ip="192.0.2.10")
    assert r.account.address == "boss@demo.test"
    # spraying many accounts from one IP blocks that IP for everyone
    for i in range(4):
        with pytest.raises((AuthError, RateLimited)):
            await auth.authenticate(f"user{i}@demo.test", "x", protocol="smtp",
                                    remote_ip="198.51.100.7")
    with pytest.raises(RateLimited):
        await auth.authenticate("boss@demo.test", "Right-pass-1", protocol="smtp",
                                remote_ip="198.51.100.7")
