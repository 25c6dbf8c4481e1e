"""The verified-credential cache (``services.auth.credcache``): what it keeps, for how long,
what invalidates it, and that the Authenticator still runs every other check on a cache hit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rongmail.errors import AuthError
from rongmail.services.auth import credcache
from rongmail.services.auth.credcache import CredentialCache
from rongmail.services.auth.passwords import hash_password

PW = "Li-pass-2026-x"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hit_needs_same_account_hash_and_password() -> None:
    c = CredentialCache()
    c.remember(7, "$argon2id$h1", "secret", 60)
    assert c.hit(7, "$argon2id$h1", "secret")
    assert not c.hit(7, "$argon2id$h1", "Secret")
    assert not c.hit(8, "$argon2id$h1", "secret")
    assert not c.hit(7, "$argon2id$h2", "secret")  # a new stored hash: invalid at once


def test_ttl_expiry_bound_and_forget() -> None:
    clock = _Clock()
    c = CredentialCache(max_entries=3, clock=clock)
    c.remember(1, "h", "a", 10)
    clock.now += 9.9
    assert c.hit(1, "h", "a")
    clock.now += 0.2  # trusted for ttl after the verification, hits do not extend it
    assert not c.hit(1, "h", "a") and len(c) == 0
    c.remember(1, "h", "x", 0)  # ttl 0: nothing kept
    assert len(c) == 0
    for i in range(5):
        c.remember(i, "h", "p", 60)
    assert len(c) == 3 and not c.hit(0, "h", "p") and c.hit(4, "h", "p")  # LRU
    c.forget(4)
    assert not c.hit(4, "h", "p") and c.hit(3, "h", "p")


def test_only_digests_are_kept() -> None:
    c = CredentialCache()
    c.remember(1, "$argon2id$stored", "my-plain-password", 60)
    kept = repr(c._entries.items())
    assert "my-plain-password" not in kept and "argon2id" not in kept
    assert CredentialCache()._key != c._key  # per-process (per-instance) random key


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    calls: list[str | None] = []
    real = credcache.verify_password

    def counting(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(credcache, "verify_password", counting)
    credcache.CACHE.clear()
    yield calls
    credcache.CACHE.clear()


async def test_failures_are_never_cached(argon2_calls: list[str | None]) -> None:
    c = CredentialCache()
    stored = hash_password("right-one")
    for _ in range(2):
        assert not await c.verify(1, stored, "wrong-one", 60)
    assert len(c) == 0 and len(argon2_calls) == 2
    assert await c.verify(1, stored, "right-one", 60)
    assert await c.verify(1, stored, "right-one", 60)
    assert len(argon2_calls) == 3  # the second success came from the cache
    assert not await c.verify(None, None, "right-one", 60)  # unknown user: argon2, no cache
    assert len(argon2_calls) == 4 and argon2_calls[-1] is None


async def test_concurrent_same_login_shares_one_verification(
    argon2_calls: list[str | None],
) -> None:
    import asyncio

    c = CredentialCache()
    stored = hash_password("right-one")
    oks = await asyncio.gather(*(c.verify(1, stored, "right-one", 60) for _ in range(5)))
    assert oks == [True] * 5 and len(argon2_calls) == 1
    bad = await asyncio.gather(*(c.verify(1, stored, "wrong", 60) for _ in range(3)))
    assert bad == [False] * 3 and len(argon2_calls) == 2 and not c._inflight
    assert not await c.verify(1, stored, "wrong", 60)  # not cached: argon2 again
    assert len(argon2_calls) == 3


pytestmark_stack = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@pytestmark_stack
async def test_authenticator_skips_argon2_on_repeat_login(
    sec: Any, argon2_calls: list[str | None]
) -> None:
    r = await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert r.method == "password" and len(argon2_calls) == 1
    r = await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert r.method == "password" and len(argon2_calls) == 1  # cache hit
    with pytest.raises(AuthError):  # a wrong password still pays argon2 and fails
        await sec.auth.authenticate(
            "li@demo.test", "not-" + PW, protocol="imap", remote_ip="127.0.0.1"
        )
    assert len(argon2_calls) == 2


@pytestmark_stack
async def test_changed_password_invalidates(sec: Any, argon2_calls: list[str | None]) -> None:
    from rongmail.actions import accounts as acc

    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert len(credcache.CACHE) == 1
    await acc.do_set_password(sec.ctx, "li@demo.test", "Li-new-pass-2026-y")
    assert len(credcache.CACHE) == 0  # forgotten explicitly, and the hash changed anyway
    with pytest.raises(AuthError):
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    r = await sec.auth.authenticate(
        "li@demo.test", "Li-new-pass-2026-y", protocol="imap", remote_ip="127.0.0.1"
    )
    assert r.method == "password" and len(argon2_calls) == 3


@pytestmark_stack
async def test_stale_entry_is_useless_after_hash_change(
    sec: Any, argon2_calls: list[str | None]
) -> None:
    """Even without the explicit forget (another node changed it), the stored hash is part of
    the digest: the old password is verified against the new hash and refused."""
    from rongmail.store.sql import directory as d

    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    await sec.ctx.meta.write(d.set_password_hash(sec.user.id, hash_password("Other-pw-2026-z")))
    assert len(credcache.CACHE) == 1
    with pytest.raises(AuthError):
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert len(argon2_calls) == 2


@pytestmark_stack
async def test_frozen_account_refused_despite_cache(
    sec: Any, argon2_calls: list[str | None]
) -> None:
    """Only the hash check is skipped: the frozen check still runs on a cache hit."""
    from rongmail.store.sql import auth as sa

    await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    await sec.ctx.meta.write(sa.set_frozen(sec.user.id, 1, "test"))  # behind the action's back
    assert credcache.CACHE.hit(sec.user.id, sec.user.password_hash, PW)
    with pytest.raises(AuthError):
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert len(argon2_calls) == 1  # refused by the freeze, not by a new hash check


@pytestmark_stack
async def test_cache_disabled_by_setting(sec: Any, argon2_calls: list[str | None]) -> None:
    from dataclasses import replace

    sec.auth.security = replace(
        sec.auth.security,
        settings=sec.auth.security.settings.model_copy(update={"auth_cache_seconds": 0}),
    )
    for _ in range(2):
        await sec.auth.authenticate("li@demo.test", PW, protocol="imap", remote_ip="127.0.0.1")
    assert len(argon2_calls) == 2 and len(credcache.CACHE) == 0
