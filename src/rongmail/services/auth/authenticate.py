"""The one authentication port every protocol calls (SMTP AUTH, IMAP, POP3, JMAP, web).

``Authenticator.authenticate`` checks a user name and secret and returns an
:class:`AuthResult` or raises :class:`~rongmail.errors.AuthError` (whose public text never says
which part was wrong) or :class:`~rongmail.errors.RateLimited`. In order:

1. **Throttling** that an attacker cannot turn against the user: failures are counted per
   (login, source network: the IPv4 address or IPv6 /64) and per source; a pair that failed
   ``lock_after`` times is refused for an exponentially growing delay, *only from that source*,
   so a brute force from elsewhere never locks the real user out of their own network; a
   source that failed against many logins (password spraying) is refused for all accounts.
   The counters live in a :class:`ThrottleStore`: the database (``actions.lockouts``,
   ``store.sql.lockout``) in ``app.py``, so lockouts survive restarts and hold on every node.
2. **Credentials**: an app password (scoped per protocol, SHA-256 lookup) or the account
   password (argon2id, RFC 9106, equal timing for unknown users). The account password is
   refused on protocols outside ``security.legacy_password_protocols`` and, for accounts with a
   second factor, on protocols that cannot ask for one (use an app password there).
3. Only after valid credentials (so nothing leaks to a guesser): **frozen** accounts, **allowed
   networks** of the tenant and role, and **risk scoring** (``services.auth.risk``). A risky
   web login raises :class:`StepUpRequired` with a short-lived challenge answered through
   :meth:`Authenticator.complete_step_up` (TOTP, RFC 6238, or a recovery code); a risky IMAP /
   SMTP / POP3 / JMAP-Basic login with the account password is refused and the admins alerted;
   a very risky one freezes the account, revokes its sessions and alerts the admins.
4. **Rotation** (``security.password_max_age_days`` / tenant ``max_age_days``): an expired
   account password is refused on mail protocols (:class:`PasswordExpired`, telling the user
   to change it in the webmail; app passwords keep working); an interactive login, once every
   other check passed, gets a ticket for :meth:`Authenticator.change_expired_password`.

Every decision is written to the hash-chained audit log with its reasons, through the
:class:`SecurityRecorder` port (implemented by ``actions.auth``; this layer never writes the
store). Without ``security`` deps (unit tests of protocols) only steps 1-2 (account password)
run. Step-up and password-change tickets live in memory (this node). Secrets are never
logged.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rongmail.config.security import LockoutSettings, SecuritySettings
from rongmail.core.address import normalize_address
from rongmail.core.models import Account
from rongmail.errors import AuthError, MailError, RateLimited, ValidationError
from rongmail.services.auth import credcache, risk, totp
from rongmail.services.auth.geoip import GeoIp
from rongmail.services.auth.ldap import LdapDirectory
from rongmail.services.auth.passwords import (
    max_age_days,
    password_expired,
    verify_password_async,
)
from rongmail.store.reader import Reader
from rongmail.store.sql import admin as adm
from rongmail.store.sql import auth as sa
from rongmail.store.sql import lockout as lk
from rongmail.store.sql.q import Op

PROTOCOLS = ("smtp", "imap", "pop3", "jmap", "web", "dav", "managesieve", "admin")
#: protocols that can run an interactive second-factor step (the rest get refusals)
INTERACTIVE = frozenset({"web", "admin"})
#: methods that already are multi-factor (a user-verified passkey): no step-up on top
STRONG_METHODS = frozenset({"passkey"})
STEP_UP_ATTEMPTS = 5
BURST_WINDOW = 900
#: a block in force is trusted from this node's cache for at most this long before the store
#: is read again (so an admin unlock on another node takes effect within it)
BLOCK_CACHE_SECONDS = 30


class StepUpRequired(AuthError):
    """Valid credentials, but the login looks risky: answer ``ticket`` with a second factor."""

    default_key = "auth.step_up_required"

    def __init__(self, ticket: str, methods: Sequence[str]) -> None:
        super().__init__(detail="step-up")
        self.ticket = ticket
        self.methods = tuple(methods)


class PasswordExpired(AuthError):
    """Valid account password, but older than the rotation limit. Interactive logins get a
    ``ticket`` for :meth:`Authenticator.change_expired_password`; mail protocols get the
    public text telling the user to change it in the webmail (app passwords keep working)."""

    default_key = "auth.password_expired"

    def __init__(self, ticket: str = "") -> None:
        super().__init__(detail="password expired")
        self.ticket = ticket


@dataclass(frozen=True)
class LoginAudit:
    """The ``login`` audit entry written together with a login event."""

    action: str
    outcome: str
    detail: dict[str, Any]


class SecurityRecorder(Protocol):
    """The writes the authenticator needs (implemented by ``actions.auth.AuthRecorder``)."""

    async def audit(self, *, category: str, action: str, outcome: str, account: Account | None,
                    remote: str, detail: dict[str, Any]) -> None: ...

    async def login_event(self, account: Account, ctx: risk.LoginContext, *, protocol: str,
                          method: str, outcome: str, score: int,
                          audit: LoginAudit | None = None) -> None:
        """Record a login attempt; with ``audit``, its ``login`` audit entry (remote =
        ``ctx.ip``) is appended in the same transaction: one durable write, not two."""
        ...

    async def freeze(self, account: Account, *, reasons: Sequence[str], remote: str) -> None: ...

    async def alert(self, account: Account, *, event: str, remote: str,
                    detail: dict[str, Any]) -> None: ...

    async def touch_app_password(self, ap_id: int, remote: str) -> None: ...

    async def totp_secret(self, account: Account) -> str | None: ...

    async def accept_totp_step(self, account: Account, step: int) -> bool: ...

    async def use_recovery_code(self, account: Account, code_hash: str) -> bool: ...


@dataclass
class SecurityDeps:
    settings: SecuritySettings
    recorder: SecurityRecorder
    geoip: GeoIp
    timezone: str = "Asia/Shanghai"
    #: password authority of LDAP-linked accounts (``security.ldap.enabled``)
    ldap: LdapDirectory | None = None


@dataclass
class _Challenge:
    account: Account
    protocol: str
    ip: str
    ctx: risk.LoginContext
    decision: risk.Decision
    expires: float
    attempts: int = 0
    #: "step_up" (answer with a second factor) or "password" (set a new password)
    kind: str = "step_up"
    #: the password is past its maximum age: a change follows the step-up
    expired: bool = False
    method: str = "password"


@dataclass(frozen=True, slots=True)
class AuthResult:
    account: Account
    protocol: str
    remote_ip: str
    method: str = "password"
    #: risk score and fired signals of this login (0 / () when scoring is off)
    score: int = 0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThrottlePolicy:
    lock_after: int = 5  # failures of one (account, ip) before a delay applies
    base_delay: float = 30.0  # seconds; doubles per further failure
    max_delay: float = 3600.0
    ip_accounts: int = 10  # distinct accounts failed from one IP before the IP is blocked
    ip_block: float = 900.0
    forget_after: float = 3600.0

    @classmethod
    def from_settings(cls, s: LockoutSettings) -> ThrottlePolicy:
        """The policy of ``[security.lockout]`` (the defaults above mirror its defaults)."""
        return cls(s.failures_before_backoff, float(s.backoff_base_seconds),
                   float(s.backoff_max_seconds), s.spraying_logins_per_source,
                   float(s.spraying_block_seconds), float(s.window_seconds))

    def rule(self) -> lk.FailureRule:
        return lk.FailureRule(self.lock_after, int(self.base_delay), int(self.max_delay),
                              self.ip_accounts, int(self.ip_block), int(self.forget_after))


class ThrottleStore(Protocol):
    """Where failure counters live. The store (``actions.lockouts.StoreThrottle``, wired by
    ``app.py``) is the truth: it survives restarts and is shared by every node on PostgreSQL.
    :class:`MemoryThrottle` serves protocol unit tests that run without a store writer."""

    async def state(self, login: str, source: str) -> lk.ThrottleState: ...

    async def fail(self, login: str, source: str, now: int,
                   rule: lk.FailureRule) -> lk.ThrottleState: ...

    async def clear(self, login: str, source: str) -> None: ...

    async def failed_logins(self, source: str, since: int) -> int: ...


class MemoryThrottle:
    """:class:`ThrottleStore` in this process only (the semantics of ``store.sql.lockout``)."""

    def __init__(self) -> None:
        #: (source, login) -> [failures, last_at, blocked_until]
        self._rows: dict[tuple[str, str], list[int]] = {}

    async def state(self, login: str, source: str) -> lk.ThrottleState:
        src = self._rows.get((source, lk.SOURCE_ROW), [0, 0, 0])
        pair = self._rows.get((source, login), [0, 0, 0])
        return lk.ThrottleState(src[2], pair[2], pair[0])

    async def fail(self, login: str, source: str, now: int,
                   rule: lk.FailureRule) -> lk.ThrottleState:
        if len(self._rows) > 100_000:
            cutoff = now - rule.forget_after
            self._rows = {k: v for k, v in self._rows.items() if v[1] >= cutoff or v[2] > now}
        row = self._rows.setdefault((source, login), [0, now, 0])
        row[0] = 1 if row[1] < now - rule.forget_after else row[0] + 1
        row[1] = now
        if row[0] >= rule.lock_after:
            row[2] = now + rule.delay(row[0])
        if await self.failed_logins(source, now - rule.forget_after) >= rule.source_logins:
            self._rows[(source, lk.SOURCE_ROW)] = [0, now, now + rule.source_block]
        return await self.state(login, source)

    async def clear(self, login: str, source: str) -> None:
        self._rows.pop((source, login), None)

    async def failed_logins(self, source: str, since: int) -> int:
        return sum(1 for (src, who), v in self._rows.items()
                   if src == source and who != lk.SOURCE_ROW and v[1] >= since)


def _ip_key(ip: str) -> str:
    """IPv6 clients rotate addresses inside their /64: throttle the prefix."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ip


def _login_key(username: str) -> str:
    try:
        return normalize_address(username)
    except MailError:
        return username.strip().lower()[:320]


#: (the history's kinds of login, recent failures, the risk reset time, accounts from the IP)
_RiskInputs = tuple[list[sa.LoginSeen], int, int, int]


def _risk_inputs(account_id: int, ctx: risk.LoginContext, history_days: int) -> Op[_RiskInputs]:
    """What risk scoring reads: the kinds of login the account had in ``history_days``
    (``login_seen``, migration 0406), its failures within :data:`BURST_WINDOW` and after the
    risk reset time, the reset time, and how many accounts logged in from the IP in the last
    hour."""
    reset_at = yield from sa.risk_reset_at(account_id)
    history = yield from sa.login_history(account_id, ctx.now - history_days * 86400)
    failures = yield from sa.failures_after(account_id, max(ctx.now - BURST_WINDOW, reset_at))
    from_ip = yield from sa.accounts_from_ip(ctx.ip, ctx.now - 3600)
    return history, failures, reset_at, from_ip


def _login_inputs(acct: Account, ctx: risk.LoginContext, history_days: int | None
                  ) -> Op[tuple[tuple[int, str] | None, list[tuple[str, str]], _RiskInputs | None]]:
    """Everything a login with valid credentials is checked against, in one read (one
    snapshot, one hand-off to the reader pool): the account's freeze, its tenant's allowed
    networks and, unless ``history_days`` is None (scoring off), the risk inputs."""
    frozen = yield from sa.frozen(acct.id)
    networks = yield from sa.allowed_networks(acct.tenant_id)
    inputs = None
    if history_days is not None:
        inputs = yield from _risk_inputs(acct.id, ctx, history_days)
    return frozen, networks, inputs


def _network_allowed(acct: Account, remote_ip: str, rows: list[tuple[str, str]]) -> bool:
    """Whether ``remote_ip`` is in one of the tenant's allowed networks for the account's
    role (``rows``: :func:`store.sql.auth.allowed_networks`); no such network allows all."""
    nets = [cidr for role, cidr in rows if role in ("", acct.role)]
    if not nets:
        return True
    try:
        addr = ipaddress.ip_address(remote_ip)
    except ValueError:
        return False
    for cidr in nets:
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


class Authenticator:
    def __init__(self, reader: Reader, policy: ThrottlePolicy | None = None, *,
                 security: SecurityDeps | None = None,
                 throttle: ThrottleStore | None = None) -> None:
        self.reader = reader
        self.policy = policy or ThrottlePolicy.from_settings(
            security.settings.lockout if security is not None else LockoutSettings())
        self.security = security
        self.throttle: ThrottleStore = throttle or MemoryThrottle()
        self._challenges: dict[str, _Challenge] = {}
        #: front cache of blocks known to be in force: (source, login or "") -> until. Only
        #: blocks are cached (they end by time alone), never "not blocked": the store decides.
        self._blocks: dict[tuple[str, str], int] = {}
        #: (source, login) pairs with failures on record, cleared on success
        self._dirty: set[tuple[str, str]] = set()

    def _remember(self, source: str, login: str, st: lk.ThrottleState, now: int) -> None:
        if len(self._blocks) > 10_000:
            self._blocks = {k: v for k, v in self._blocks.items() if v > now}
        if st.source_blocked_until > now:
            self._blocks[(source, lk.SOURCE_ROW)] = min(st.source_blocked_until,
                                                        now + BLOCK_CACHE_SECONDS)
        if st.pair_blocked_until > now:
            self._blocks[(source, login)] = min(st.pair_blocked_until, now + BLOCK_CACHE_SECONDS)

    def forget_blocks(self, login: str) -> None:
        """Drop this node's cached blocks of ``login`` (after an admin unlock; other nodes
        re-read the store within :data:`BLOCK_CACHE_SECONDS`)."""
        key = _login_key(login)
        self._blocks = {k: v for k, v in self._blocks.items() if k[1] != key}
        self._dirty = {k for k in self._dirty if k[1] != key}

    async def check_allowed(self, username: str, remote_ip: str) -> None:
        """Raise RateLimited if this (user, source) or this source is currently throttled."""
        now = int(time.time())
        src, login = _ip_key(remote_ip), _login_key(username)
        if self._blocks.get((src, lk.SOURCE_ROW), 0) > now:
            raise RateLimited(detail=f"ip {src} blocked")
        if self._blocks.get((src, login), 0) > now:
            raise RateLimited(detail="pair throttled")
        st = await self.throttle.state(login, src)
        self._remember(src, login, st, now)
        if st.pair_failures:
            self._dirty.add((src, login))
        if st.source_blocked_until > now:
            raise RateLimited(detail=f"ip {src} blocked")
        if st.pair_blocked_until > now:
            raise RateLimited(detail="pair throttled")

    async def _fail(self, username: str, remote_ip: str) -> None:
        now = int(time.time())
        src, login = _ip_key(remote_ip), _login_key(username)
        st = await self.throttle.fail(login, src, now, self.policy.rule())
        self._remember(src, login, st, now)
        if len(self._dirty) > 10_000:
            self._dirty.clear()
        self._dirty.add((src, login))

    async def _succeed(self, username: str, remote_ip: str) -> None:
        """Clear the pair's failures (only when some were seen: no write per good login)."""
        key = (_ip_key(remote_ip), _login_key(username))
        if key in self._dirty:
            self._dirty.discard(key)
            await self.throttle.clear(key[1], key[0])

    async def authenticate(self, username: str, password: str, *, protocol: str,
                           remote_ip: str, user_agent: str = "") -> AuthResult:
        """Verify a login. Raises AuthError (StepUpRequired for risky web logins) or
        RateLimited. ``user_agent`` (web) feeds the new-device signal."""
        await self.check_allowed(username, remote_ip)
        try:
            address = normalize_address(username)
        except MailError:
            await self._fail(username, remote_ip)
            await verify_password_async(None, password)  # equal timing
            raise AuthError() from None
        acct = await self.reader.account_by_address(address)
        usable = acct is not None and not acct.disabled and acct.kind == "user"
        sec = self.security
        method = ""
        if sec is not None and acct is not None and usable:
            method = await self._app_password(acct, password, protocol, remote_ip)
        if not method and sec is not None and sec.ldap is not None and acct is not None \
                and usable:
            method = await self._ldap_password(sec.ldap, acct, password, protocol, remote_ip,
                                               user_agent)
        if not method:
            stored = acct.password_hash if acct is not None and usable else None
            ok = await credcache.verify(sec, acct, stored, password)
            if not ok or acct is None:
                await self._fail(address, remote_ip)
                if sec is not None and acct is not None:
                    await self._record_failure(acct, protocol, remote_ip, user_agent,
                                               "bad_credentials")
                raise AuthError()
            method = "password"
            if sec is not None:
                await self._password_allowed(acct, protocol, remote_ip)
        assert acct is not None
        await self._succeed(address, remote_ip)
        if sec is None:
            return AuthResult(acct, protocol, remote_ip, method)
        expired = method == "password" and await self._password_expired(acct)
        if expired and protocol not in INTERACTIVE:
            await sec.recorder.audit(category="login", action="login.password", outcome="refused",
                                     account=acct, remote=remote_ip,
                                     detail={"protocol": protocol, "reason": "password_expired"})
            raise PasswordExpired()
        return await self._after_credentials(acct, protocol, method, remote_ip, user_agent,
                                             expired=expired)

    async def authenticate_external(self, account: Account, *, method: str, protocol: str,
                                    remote_ip: str, user_agent: str = "") -> AuthResult:
        """A login proven elsewhere (OIDC ID token, OAuth bearer token): the same account
        checks, allowed networks, risk scoring and audit as a password login."""
        await self.check_allowed(account.address, remote_ip)
        if account.disabled or account.kind != "user":
            raise AuthError(detail="account disabled")
        if self.security is None:
            return AuthResult(account, protocol, remote_ip, method)
        return await self._after_credentials(account, protocol, method, remote_ip, user_agent)

    async def authenticate_bearer(self, token: str, *, username: str, protocol: str,
                                  remote_ip: str) -> AuthResult:
        """SASL OAUTHBEARER / XOAUTH2 (``services.auth.sasl_oauth``): a RongMail bearer token
        (RFC 6750, stored hashed in ``http_token``) for the account named by the client. A
        token of another account, or an expired one, fails like a wrong password."""
        await self.check_allowed(username or "-", remote_ip)
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = await self.reader.token(digest, int(time.time()))
        acct = await self.reader.account(row.account_id) if row is not None \
            and row.kind == "bearer" else None
        same = not username  # no authzid: the token's own account (RFC 7628 §3.1)
        if acct is not None and username:
            try:
                same = normalize_address(username) == acct.address
            except MailError:
                same = False
        if acct is None or not same:
            await self._fail(username or "-", remote_ip)
            raise AuthError(detail="bearer token refused")
        await self._succeed(acct.address, remote_ip)
        return await self.authenticate_external(acct, method="oauthbearer", protocol=protocol,
                                                remote_ip=remote_ip)

    # -- credentials ----------------------------------------------------------------------------

    async def _app_password(self, acct: Account, secret: str, protocol: str,
                            remote_ip: str) -> str:
        digest = hashlib.sha256(secret.strip().encode()).hexdigest()
        row = await self.reader.meta.read(sa.app_password_by_hash(acct.id, digest))
        if row is None:
            return ""
        assert self.security is not None
        if protocol not in row.protocols:
            await self._fail(acct.address, remote_ip)
            await self.security.recorder.audit(
                category="login", action="login.app_password", outcome="refused",
                account=acct, remote=remote_ip,
                detail={"protocol": protocol, "app_password": row.id, "reason": "scope"})
            raise AuthError(detail=f"app password {row.id} not valid for {protocol}")
        await self.security.recorder.touch_app_password(row.id, remote_ip)
        return "app_password"

    async def _ldap_password(self, ldap: LdapDirectory, acct: Account, password: str,
                             protocol: str, remote_ip: str, user_agent: str) -> str:
        """For an LDAP-linked account the directory is the only password authority: bind as
        the linked entry (never fall back to a local hash)."""
        link = await self.reader.meta.read(sa.external_identity(acct.id, "ldap"))
        if link is None:
            return ""
        user = await ldap.check_password_async(acct.address, password)
        if user is None or user.dn.lower() != link[1].lower():
            await self._fail(acct.address, remote_ip)
            await self._record_failure(acct, protocol, remote_ip, user_agent, "ldap_bind")
            raise AuthError(detail="ldap bind refused")
        await self._password_allowed(acct, protocol, remote_ip)
        return "ldap"

    async def _password_allowed(self, acct: Account, protocol: str, remote_ip: str) -> None:
        """The account password is valid; may it be used on this protocol?"""
        sec = self.security
        assert sec is not None
        reason = ""
        if protocol not in sec.settings.legacy_password_protocols \
                and protocol not in INTERACTIVE:
            reason = "protocol"
        elif protocol not in INTERACTIVE and await self._has_second_factor(acct):
            reason = "second_factor_enrolled"
        if reason:
            await sec.recorder.audit(category="login", action="login.password", outcome="refused",
                                     account=acct, remote=remote_ip,
                                     detail={"protocol": protocol, "reason": reason})
            raise AuthError("auth.app_password_required")

    async def _has_second_factor(self, acct: Account) -> bool:
        row = await self.reader.meta.read(sa.totp(acct.id))
        return row is not None and row.confirmed

    # -- after valid credentials ----------------------------------------------------------------

    def _context(self, remote_ip: str, user_agent: str, protocol: str) -> risk.LoginContext:
        assert self.security is not None
        return risk.LoginContext(
            ip=remote_ip, net=risk.network_of(remote_ip),
            country=self.security.geoip.country(remote_ip),
            device=risk.device_of(user_agent) if protocol in INTERACTIVE else "",
            now=int(time.time()), region=self.security.geoip.region(remote_ip))

    async def _record_failure(self, acct: Account, protocol: str, remote_ip: str,
                              user_agent: str, reason: str) -> None:
        assert self.security is not None
        ctx = self._context(remote_ip, user_agent, protocol)
        rec = self.security.recorder
        await rec.login_event(acct, ctx, protocol=protocol, method="password", outcome="failure",
                              score=0, audit=LoginAudit("login.failed", "failure", {
                                  "protocol": protocol, "reason": reason,
                                  "country": ctx.country}))

    async def _password_expired(self, acct: Account) -> bool:
        """Rotation (MLPS): the stricter of ``security.password_max_age_days`` and the tenant
        policy's ``max_age_days`` (0 = off). An account without a recorded change never
        expires (migration 0106 backfills existing passwords)."""
        assert self.security is not None
        policy = await self.reader.meta.read(adm.get_policy(acct.tenant_id))
        days = max_age_days(self.security.settings.password_max_age_days,
                            policy.max_age_days if policy is not None else 0)
        if not days:
            return False
        changed = await self.reader.meta.read(lk.password_changed_at(acct.id))
        return password_expired(changed, days, int(time.time()))

    def _ticket(self, ch: _Challenge) -> str:
        ticket = secrets.token_urlsafe(24)
        self._gc_challenges()
        self._challenges[ticket] = ch
        return ticket

    async def _after_credentials(self, acct: Account, protocol: str, method: str,
                                 remote_ip: str, user_agent: str, *,
                                 expired: bool = False) -> AuthResult:
        sec = self.security
        assert sec is not None
        rec = sec.recorder
        ctx = self._context(remote_ip, user_agent, protocol)
        base = {"protocol": protocol, "method": method, "country": ctx.country}
        cfg = sec.settings.risk
        frozen, networks, inputs = await self.reader.meta.read(
            _login_inputs(acct, ctx, cfg.history_days if cfg.enabled else None))
        if frozen is not None:
            await rec.audit(category="login", action="login.refused", outcome="refused",
                            account=acct, remote=remote_ip, detail={**base, "reason": "frozen"})
            raise AuthError("auth.frozen")
        if not _network_allowed(acct, remote_ip, networks):
            await rec.audit(category="login", action="login.refused", outcome="refused",
                            account=acct, remote=remote_ip,
                            detail={**base, "reason": "network"})
            raise AuthError("auth.network_refused")
        decision = await self._score(acct, ctx, inputs)
        detail = {**base, "score": decision.score, "reasons": list(decision.reasons),
                  "decision": decision.outcome}
        if decision.outcome == risk.FREEZE:
            await rec.login_event(acct, ctx, protocol=protocol, method=method,
                                  outcome="refused", score=decision.score)
            await rec.audit(category="login", action="login.refused", outcome="frozen",
                            account=acct, remote=remote_ip, detail=detail)
            await rec.freeze(acct, reasons=decision.reasons, remote=remote_ip)
            raise AuthError("auth.frozen")
        if decision.outcome == risk.STEP_UP and method not in STRONG_METHODS:
            if protocol in INTERACTIVE:
                if await self._has_second_factor(acct):
                    ticket = self._ticket(_Challenge(
                        acct, protocol, remote_ip, ctx, decision,
                        time.monotonic() + sec.settings.step_up_ttl_seconds, expired=expired,
                        method=method))
                    await rec.audit(category="login", action="login.step_up",
                                    outcome="challenge", account=acct, remote=remote_ip,
                                    detail=detail)
                    raise StepUpRequired(ticket, ["totp", "recovery"])
                if sec.settings.risk.refuse_without_factor:
                    await self._refuse_risky(acct, ctx, protocol, method, decision, detail)
            elif method == "password":
                await self._refuse_risky(acct, ctx, protocol, method, decision, detail)
        if expired:
            raise await self._change_required(acct, protocol, remote_ip, ctx, decision, method)
        await rec.login_event(acct, ctx, protocol=protocol, method=method, outcome="success",
                              score=decision.score,
                              audit=LoginAudit("login.success", "success", detail))
        return AuthResult(acct, protocol, remote_ip, method, decision.score, decision.reasons)

    async def _refuse_risky(self, acct: Account, ctx: risk.LoginContext, protocol: str,
                            method: str, decision: risk.Decision, detail: dict[str, Any]
                            ) -> None:
        assert self.security is not None
        rec = self.security.recorder
        await rec.login_event(acct, ctx, protocol=protocol, method=method, outcome="refused",
                              score=decision.score)
        await rec.audit(category="login", action="login.refused", outcome="refused",
                        account=acct, remote=ctx.ip, detail=detail)
        await rec.alert(acct, event="risky_login_refused", remote=ctx.ip, detail=detail)
        raise AuthError("auth.risk_refused")

    async def _score(self, acct: Account, ctx: risk.LoginContext,
                     inputs: _RiskInputs | None = None) -> risk.Decision:
        """Score a login from ``inputs`` (read here when not given: see :func:`_login_inputs`)."""
        assert self.security is not None
        cfg = self.security.settings.risk
        if not cfg.enabled:
            return risk.Decision(risk.ALLOW, 0, ())
        if inputs is None:
            inputs = await self.reader.meta.read(_risk_inputs(acct.id, ctx, cfg.history_days))
        history, failures, reset_at, from_ip = inputs
        failed_here = await self.throttle.failed_logins(
            _ip_key(ctx.ip), ctx.now - int(self.policy.forget_after))
        return risk.score(cfg, ctx, history, recent_failures=failures,
                          accounts_from_ip=max(from_ip, failed_here),
                          timezone=self.security.timezone, reset_at=reset_at)

    # -- step-up --------------------------------------------------------------------------------

    def _gc_challenges(self) -> None:
        now = time.monotonic()
        if len(self._challenges) > 1000:
            self._challenges = {k: v for k, v in self._challenges.items() if v.expires > now}

    async def complete_step_up(self, ticket: str, code: str, *, remote_ip: str) -> AuthResult:
        """Answer a :class:`StepUpRequired` challenge with a TOTP or recovery code. The
        challenge is bound to the source IP, expires, and allows a few attempts."""
        sec = self.security
        ch = self._live(ticket, "step_up", remote_ip)
        assert sec is not None
        await self.check_allowed(ch.account.address, remote_ip)
        rec = sec.recorder
        acct = ch.account
        factor = ""
        if totp.looks_like_recovery_code(code):
            if await rec.use_recovery_code(acct, totp.recovery_hash(code)):
                factor = "recovery"
        else:
            secret = await rec.totp_secret(acct)
            step = totp.matching_step(secret, code, window=sec.settings.totp_window) \
                if secret else None
            if step is not None and await rec.accept_totp_step(acct, step):
                factor = "totp"
        detail = {"protocol": ch.protocol, "score": ch.decision.score,
                  "reasons": list(ch.decision.reasons)}
        if not factor:
            ch.attempts += 1
            await self._fail(acct.address, remote_ip)
            if ch.attempts >= STEP_UP_ATTEMPTS:
                self._challenges.pop(ticket, None)
            await rec.audit(category="login", action="login.step_up", outcome="failure",
                            account=acct, remote=remote_ip, detail=detail)
            raise AuthError("auth.step_up_failed")
        self._challenges.pop(ticket, None)
        await self._succeed(acct.address, remote_ip)
        if await self.reader.meta.read(sa.frozen(acct.id)) is not None:
            raise AuthError("auth.frozen")
        method = f"{ch.method}+{factor}"
        if ch.expired:
            raise await self._change_required(acct, ch.protocol, remote_ip, ch.ctx, ch.decision,
                                              method)
        return await self._success(acct, ch, remote_ip, method, detail)

    def _live(self, ticket: str, kind: str, remote_ip: str) -> _Challenge:
        """A challenge that exists, is of ``kind``, has not expired and is answered from the
        IP it was issued to."""
        ch = self._challenges.get(ticket)
        if self.security is None or ch is None or ch.kind != kind \
                or ch.expires < time.monotonic() or ch.ip != remote_ip:
            raise AuthError("auth.step_up_expired")
        return ch

    async def _success(self, acct: Account, ch: _Challenge, remote_ip: str, method: str,
                       detail: dict[str, Any]) -> AuthResult:
        assert self.security is not None
        rec = self.security.recorder
        await rec.login_event(acct, ch.ctx, protocol=ch.protocol, method=method,
                              outcome="success", score=ch.decision.score)
        await rec.audit(category="login", action="login.success", outcome="success",
                        account=acct, remote=remote_ip, detail={**detail, "method": method})
        return AuthResult(acct, ch.protocol, remote_ip, method, ch.decision.score,
                          ch.decision.reasons)

    # -- password rotation ----------------------------------------------------------------------

    async def _change_required(self, acct: Account, protocol: str, remote_ip: str,
                               ctx: risk.LoginContext, decision: risk.Decision,
                               method: str) -> PasswordExpired:
        """Every other check passed, but the password is too old: a ticket to set a new one."""
        assert self.security is not None
        ticket = self._ticket(_Challenge(
            acct, protocol, remote_ip, ctx, decision,
            time.monotonic() + self.security.settings.step_up_ttl_seconds, kind="password",
            method=method))
        await self.security.recorder.audit(
            category="login", action="login.password_expired", outcome="challenge",
            account=acct, remote=remote_ip, detail={"protocol": protocol, "method": method})
        return PasswordExpired(ticket)

    async def change_expired_password(
            self, ticket: str, new_password: str, *, remote_ip: str,
            store: Callable[[Account, str], Awaitable[None]]) -> AuthResult:
        """Answer a :class:`PasswordExpired` ticket with a new password; ``store`` (an action
        of the caller) checks the tenant policy and writes it (raising ``ValidationError``,
        after which the ticket stays usable until it expires). Then the login completes."""
        ch = self._live(ticket, "password", remote_ip)
        await self.check_allowed(ch.account.address, remote_ip)
        if await verify_password_async(ch.account.password_hash, new_password):
            raise ValidationError("password.reused")
        await store(ch.account, new_password)
        self._challenges.pop(ticket, None)
        acct = await self.reader.account(ch.account.id) or ch.account
        assert self.security is not None
        detail = {"protocol": ch.protocol, "score": ch.decision.score,
                  "reasons": list(ch.decision.reasons)}
        await self.security.recorder.audit(
            category="login", action="login.password_changed", outcome="success",
            account=acct, remote=remote_ip, detail={"protocol": ch.protocol,
                                                    "reason": "expired"})
        return await self._success(acct, ch, remote_ip, ch.method, detail)
