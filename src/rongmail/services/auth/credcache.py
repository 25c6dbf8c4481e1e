"""Verified-credential cache: skip the argon2id verification of a password verified recently.

Role: IMAP/POP3/SMTP clients log in again and again with the same password (mobile clients
reconnect every few minutes, some open one connection per folder), and each argon2id
verification (RFC 9106, ``services.auth.passwords``: t=3, m=64 MiB, p=2) costs ~100 ms of CPU.
Like Cyrus ``saslauthd -c`` and Dovecot's ``auth_cache``, after a *successful* verification we
remember, for ``security.auth_cache_seconds``, the digest
``HMAC-SHA256(process key, account id || stored hash || password)``; a later login presenting
the same password against the same stored hash is accepted without argon2.

Invariants:

* Only the hash verification is skipped: the caller (``Authenticator.authenticate``) still runs
  throttling/lockout before and the frozen / allowed-network / risk checks after, on every
  login.
* Failures are never cached (a wrong password always costs a full argon2 verification), and
  unknown or unusable accounts never consult the cache (equal timing stays argon2's).
  Concurrent logins presenting the same (account, hash, password) share one running
  verification and its outcome (the 20 connections a client opens at once cost one argon2);
  that sharing ends with the verification.
* The key is 32 random bytes made at process start and never leaves memory; the cache holds
  only digests, never a password or anything from which one can be checked offline without
  that key. The stored hash is part of the digest, so a password change invalidates at once;
  :func:`forget` drops an account's entries explicitly (password change, disable, freeze).
* Bounded: at most :data:`MAX_ENTRIES` digests, least recently used dropped first; an entry
  is trusted for ``ttl`` seconds after the verification that created it, never refreshed.
* Argon2 runs on this module's own small thread pool (one thread per core), so a burst of
  logins queues there instead of filling asyncio's default executor, which blob reads and
  MIME parsing share (a FETCH must not wait behind ten password hashes).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from rongmail.core.expiring import ExpiringLru
from rongmail.core.models import Account
from rongmail.services.auth.passwords import verify_password

if TYPE_CHECKING:
    from rongmail.services.auth.authenticate import SecurityDeps

__all__ = ["CACHE", "MAX_ENTRIES", "CredentialCache", "forget", "verify"]

MAX_ENTRIES = 10_000
DEFAULT_TTL = 300.0

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="rm-argon2"
        )
    return _POOL


async def verify_off_loop(stored_hash: str | None, password: str) -> bool:
    """``passwords.verify_password`` on the argon2 pool (never on the event loop)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), verify_password, stored_hash, password)


class CredentialCache:
    """Digests of recently verified (account, stored hash, password) triples."""

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._key = secrets.token_bytes(32)
        #: digest -> account id
        self._entries: ExpiringLru[bytes, int] = ExpiringLru(max_entries, clock=clock)
        #: digest -> the argon2 verification running for it (concurrent logins share it)
        self._inflight: dict[bytes, asyncio.Future[bool]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _digest(self, account_id: int, stored_hash: str, password: str) -> bytes:
        msg = b"\x00".join(
            (
                str(account_id).encode(),
                stored_hash.encode("utf-8", "replace"),
                password.encode("utf-8", "surrogatepass"),
            )
        )
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def hit(self, account_id: int, stored_hash: str, password: str) -> bool:
        """True if this exact password was verified against this stored hash within the TTL."""
        return self._entries.get(self._digest(account_id, stored_hash, password)) is not None

    def remember(self, account_id: int, stored_hash: str, password: str, ttl: float) -> None:
        """Record a *successful* verification, trusted for ``ttl`` seconds."""
        self._entries.put(self._digest(account_id, stored_hash, password), account_id, ttl)

    def forget(self, account_id: int) -> None:
        """Drop every entry of one account."""
        for d, a in self._entries.items():
            if a == account_id:
                self._entries.pop(d)

    def clear(self) -> None:
        self._entries.clear()

    async def verify(
        self, account_id: int | None, stored_hash: str | None, password: str, ttl: float
    ) -> bool:
        """Check ``password`` against ``stored_hash``: from the cache when verified within
        ``ttl`` seconds, else by argon2 off the event loop (caching a success).
        ``account_id``/``stored_hash`` None (unknown or unusable account): argon2 against a
        dummy hash, for equal timing, and False."""
        if account_id is None or not stored_hash:
            await verify_off_loop(None, password)
            return False
        if ttl <= 0:
            return await verify_off_loop(stored_hash, password)
        if self.hit(account_id, stored_hash, password):
            return True
        d = self._digest(account_id, stored_hash, password)
        running = self._inflight.get(d)
        if running is not None:  # the same triple is being verified: share its outcome
            return await asyncio.shield(running)
        fut: asyncio.Future[bool] = asyncio.ensure_future(verify_off_loop(stored_hash, password))
        self._inflight[d] = fut
        try:
            ok = await asyncio.shield(fut)
        finally:
            if fut.done():
                self._inflight.pop(d, None)
            else:  # we were cancelled: forget the entry when the verification ends
                fut.add_done_callback(lambda _f: self._inflight.pop(d, None))
        if ok:
            self.remember(account_id, stored_hash, password, ttl)
        return ok


#: The process-wide cache (one per process: its key is process-random).
CACHE = CredentialCache()


async def verify(
    security: SecurityDeps | None, account: Account | None, stored_hash: str | None, password: str
) -> bool:
    """The Authenticator's password check: ``account`` (or None) with its usable stored hash.

    ``security`` is the Authenticator's ``SecurityDeps`` (None in protocol unit tests: no
    caching); its ``settings.auth_cache_seconds`` is the TTL (0 disables the cache)."""
    ttl = float(security.settings.auth_cache_seconds) if security is not None else 0.0
    account_id = account.id if account is not None and stored_hash else None
    return await CACHE.verify(account_id, stored_hash, password, ttl)


def forget(account_id: int) -> None:
    """Invalidate one account's cached verifications (password change, disable, freeze)."""
    CACHE.forget(account_id)
