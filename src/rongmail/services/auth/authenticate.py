"""The one authentication port every protocol calls (SMTP AUTH, IMAP, POP3, JMAP, web).

``Authenticator.authenticate`` checks a user name and secret and returns an
:class:`AuthResult` or raises :class:`~rongmail.errors.AuthError` (whose public text never says
which part was wrong). It applies throttling that an attacker cannot turn against the user:

* failures are counted per (account, source IP) and per source IP; a pair that failed
  ``lock_after`` times is refused for an exponentially growing delay — *only from that IP*, so a
  brute force from elsewhere never locks the real user out of their own network;
* an IP that failed against many accounts (password spraying) is refused for all accounts.

Counters live in memory (one node); the identity issue moves them to the store for clusters and
adds app passwords, TOTP, risk scoring and audit. Plain passwords are never logged.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from rongmail.core.address import normalize_address
from rongmail.core.models import Account
from rongmail.errors import AuthError, MailError, RateLimited
from rongmail.services.auth.passwords import verify_password_async
from rongmail.store.reader import Reader

PROTOCOLS = ("smtp", "imap", "pop3", "jmap", "web", "dav", "managesieve", "admin")


@dataclass(frozen=True, slots=True)
class AuthResult:
    account: Account
    protocol: str
    remote_ip: str
    method: str = "password"


@dataclass
class _Counter:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ThrottlePolicy:
    lock_after: int = 5  # failures of one (account, ip) before a delay applies
    base_delay: float = 30.0  # seconds; doubles per further failure
    max_delay: float = 3600.0
    ip_accounts: int = 10  # distinct accounts failed from one IP before the IP is blocked
    ip_block: float = 900.0
    forget_after: float = 3600.0


def _ip_key(ip: str) -> str:
    """IPv6 clients rotate addresses inside their /64: throttle the prefix."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ip


class Authenticator:
    def __init__(self, reader: Reader, policy: ThrottlePolicy | None = None) -> None:
        self.reader = reader
        self.policy = policy or ThrottlePolicy()
        self._pair: dict[tuple[str, str], _Counter] = {}
        self._ip: dict[str, set[str]] = {}
        self._ip_block: dict[str, float] = {}

    def _gc(self, now: float) -> None:
        if len(self._pair) < 100_000:
            return
        cutoff = now - self.policy.forget_after
        self._pair = {k: v for k, v in self._pair.items() if v.last > cutoff}

    def check_allowed(self, username: str, remote_ip: str) -> None:
        """Raise RateLimited if this (user, IP) or this IP is currently throttled."""
        now = time.monotonic()
        ipk = _ip_key(remote_ip)
        if self._ip_block.get(ipk, 0) > now:
            raise RateLimited(detail=f"ip {ipk} blocked")
        c = self._pair.get((username.lower(), ipk))
        if c and c.blocked_until > now:
            raise RateLimited(detail="pair throttled")

    def _fail(self, username: str, remote_ip: str) -> None:
        now = time.monotonic()
        self._gc(now)
        p = self.policy
        ipk = _ip_key(remote_ip)
        c = self._pair.setdefault((username.lower(), ipk), _Counter())
        if now - c.last > p.forget_after:
            c.failures = 0
        c.failures += 1
        c.last = now
        if c.failures >= p.lock_after:
            delay = min(p.max_delay, p.base_delay * 2 ** (c.failures - p.lock_after))
            c.blocked_until = now + delay
        users = self._ip.setdefault(ipk, set())
        users.add(username.lower())
        if len(users) >= p.ip_accounts:
            self._ip_block[ipk] = now + p.ip_block

    def _succeed(self, username: str, remote_ip: str) -> None:
        self._pair.pop((username.lower(), _ip_key(remote_ip)), None)

    async def authenticate(self, username: str, password: str, *, protocol: str,
                           remote_ip: str) -> AuthResult:
        """Verify a password login. Raises AuthError or RateLimited."""
        self.check_allowed(username, remote_ip)
        try:
            address = normalize_address(username)
        except MailError:
            self._fail(username, remote_ip)
            await verify_password_async(None, password)  # equal timing
            raise AuthError() from None
        acct = await self.reader.account_by_address(address)
        stored = acct.password_hash if acct and not acct.disabled and acct.kind == "user" else None
        ok = await verify_password_async(stored, password)
        if not ok or acct is None:
            self._fail(address, remote_ip)
            raise AuthError()
        self._succeed(address, remote_ip)
        return AuthResult(acct, protocol, remote_ip)
