"""HTTP authentication (one layer for every HTTP feature) and the webmail login endpoints.

:class:`HttpAuth` accepts, in this order:

1. ``Authorization: Basic`` (RFC 7617) — clients and scripts; checked by the one
   :class:`~rongmail.services.auth.authenticate.Authenticator` (throttled, protocol ``jmap``).
   A successful check is remembered for :data:`BASIC_CACHE_TTL` seconds under a keyed hash of
   the credentials, so a client sending Basic on every request costs one argon2 verification
   per five minutes, not per request; disabled accounts are refused immediately regardless, and
   an entry is bound to the account's current password hash, so a password change ends it at
   once (within the account cache's :data:`CACHE_TTL`).
2. ``Authorization: Bearer`` (RFC 6750) — tokens of ``http_token`` (stored as SHA-256).
3. The webmail session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). Requests that
   change state must carry the session's anti-CSRF token in ``X-CSRF-Token`` (double submit
   bound to the server-side session); WebSocket upgrades by cookie must come from our origin.

Verified tokens and accounts are cached in memory for :data:`CACHE_TTL` seconds (the hot path
of every API request); a logout drops its entry at once, other revocations and account
disabling take effect within that time on this node.

Endpoints: ``POST /api/login`` JSON ``{username, password}`` → ``{csrfToken, accountId,
displayName}`` plus the cookie; ``POST /api/logout``; ``GET /api/me``.

Risk-based step-up (issue 8, backward compatible): when the authenticator finds a login risky
and the account has a second factor, ``POST /api/login`` answers 401 with ``{"stepUp": "totp",
"methods": ["totp", "recovery"], "ticket": ...}`` and no cookie; ``POST /api/login/step-up``
JSON ``{ticket, code}`` (a TOTP code, RFC 6238, or a recovery code) then answers exactly like a
successful login. The ticket is bound to the source IP, expires, and allows a few attempts.

Password rotation (``security.password_max_age_days`` or the tenant policy's ``maxAgeDays``):
an expired account password answers 401 with ``{"type": "about:blank#passwordExpired",
"passwordExpired": true, "ticket": ...}`` (after every other check, step-up included);
``POST /api/login/change-password`` JSON ``{ticket, password}`` sets the new password under the
tenant policy (400 ``weakPassword`` with the reason otherwise) and answers like a login.
Every web session records its device, IP, country and last-seen time for the session list and
remote sign-out (``protocols/http/security.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from rongmail.actions import accounts
from rongmail.actions import admin as admin_actions
from rongmail.actions import auth as auth_actions
from rongmail.actions import jmap as jact
from rongmail.core.models import Account
from rongmail.errors import AuthError, MailError, PermissionDenied, RateLimited, ValidationError
from rongmail.i18n import normalize_locale, t
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.auth.authenticate import AuthResult, PasswordExpired, StepUpRequired

COOKIE = "rongmail_session"
CSRF_HEADER = "X-CSRF-Token"
BASIC_CACHE_TTL = 300.0


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]
CACHE_TTL = 10.0
TOUCH_EVERY = 60.0
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    account: Account
    method: str  # "basic" | "bearer" | "session"
    csrf: str = ""


def account_jmap_id(account: Account) -> str:
    return f"A{account.id}"


def locale_of(request: web.Request) -> str:
    return normalize_locale(request.headers.get("Accept-Language", "en").split(",")[0])


class HttpAuth:
    def __init__(self, deps: HttpDeps) -> None:
        self.deps = deps
        self._secret = secrets.token_bytes(32)
        self._basic: dict[str, tuple[int, float, str]] = {}
        self._tokens: dict[str, tuple[Account, str, str, float]] = {}
        self._accounts: dict[int, tuple[Account, float]] = {}
        self._touched: dict[str, float] = {}

    async def _account(self, account_id: int) -> Account:
        now = time.monotonic()
        hit = self._accounts.get(account_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        acct = await self.deps.reader.account(account_id)
        if acct is None or acct.disabled:
            raise AuthError()
        if len(self._accounts) > 10_000:
            self._accounts.clear()
        self._accounts[account_id] = (acct, now + CACHE_TTL)
        return acct

    async def _touch(self, token: str, ip: str) -> None:
        """Record the session's last-seen time and IP (at most once a minute per session)."""
        if getattr(self.deps.auth, "security", None) is None:
            return
        key = jact.token_hash(token)
        now = time.monotonic()
        if self._touched.get(key, 0.0) > now:
            return
        if len(self._touched) > 10_000:
            self._touched.clear()
        self._touched[key] = now + TOUCH_EVERY
        await auth_actions.do_touch_session(self.deps.ctx, key, ip)

    def forget_token(self, token: str) -> None:
        self._tokens.pop(jact.token_hash(token), None)

    def forget_hashes(self, hashes: list[str]) -> None:
        """Drop cached sessions/tokens by stored hash (remote sign-out, frozen account)."""
        for h in hashes:
            self._tokens.pop(h, None)

    async def _basic_login(self, request: web.Request, value: str) -> Principal:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise AuthError() from None
        key = hmac.new(self._secret, f"{user}\0{password}".encode(), hashlib.sha256).hexdigest()
        now = time.monotonic()
        hit = self._basic.get(key)
        if hit is not None and hit[1] > now:
            acct = await self._account(hit[0])
            # a password change (or reset by an admin) invalidates the entry at once
            if _fingerprint(acct.password_hash) == hit[2]:
                return Principal(acct, "basic")
            self._basic.pop(key, None)
        if self.deps.auth is None:
            raise AuthError(detail="no authenticator configured")
        result = await self.deps.auth.authenticate(
            user, password, protocol="jmap", remote_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""))
        if len(self._basic) > 10_000:
            self._basic = {k: v for k, v in self._basic.items() if v[1] > now}
        self._basic[key] = (result.account.id, now + BASIC_CACHE_TTL,
                            _fingerprint(result.account.password_hash))
        return Principal(result.account, "basic")

    async def _token(self, token: str, kind: str) -> tuple[Account, str]:
        key = jact.token_hash(token)
        now = time.monotonic()
        hit = self._tokens.get(key)
        if hit is not None and hit[3] > now and hit[2] == kind:
            return hit[0], hit[1]
        row = await self.deps.reader.token(key, int(time.time()))
        if row is None or row.kind != kind:
            raise AuthError()
        acct = await self._account(row.account_id)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (acct, row.csrf, kind, now + min(CACHE_TTL, row.expires_at
                                                              - time.time()))
        return acct, row.csrf

    async def authenticate(self, request: web.Request) -> Principal:
        """The request's principal, or AuthError / PermissionDenied (bad CSRF or origin)."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            return await self._basic_login(request, value.strip())
        if scheme.lower() == "bearer":
            acct, _ = await self._token(value.strip(), "bearer")
            return Principal(acct, "bearer")
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise AuthError()
        acct, csrf = await self._token(cookie, "session")
        await self._touch(cookie, request.remote or "")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, csrf):
                raise PermissionDenied(detail="csrf")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                raise PermissionDenied(detail="websocket origin")
        return Principal(acct, "session", csrf)


AUTH_KEY = web.AppKey("http_auth", HttpAuth)


def http_auth(app: web.Application) -> HttpAuth:
    """The application's one HttpAuth (created on first use)."""
    if AUTH_KEY not in app:
        app[AUTH_KEY] = HttpAuth(app[DEPS_KEY])
    return app[AUTH_KEY]


def _browser_fetch(request: web.Request | None) -> bool:
    """A fetch/XHR/EventSource from a page (Fetch Metadata): a ``Basic`` challenge would make
    the browser hold the request behind its native password dialog (the webmail then hangs
    on "Loading…" instead of showing its own login form)."""
    return request is not None and request.headers.get("Sec-Fetch-Dest") == "empty"


def auth_failure(exc: MailError, locale: str, request: web.Request | None = None) -> web.Response:
    """401 (with challenges), 403 or 429 as problem details; the text never says which part
    of the credentials was wrong. Pass ``request`` so that scripted browser requests get only
    the ``Bearer`` challenge (browsers show no dialog for it)."""
    if isinstance(exc, RateLimited):
        status, kind = 429, "rateLimited"
    elif exc.temporary:  # the store is unavailable: not the client's fault
        status, kind = 503, "serverUnavailable"
    elif isinstance(exc, PermissionDenied):
        status, kind = 403, "forbidden"
    else:
        status, kind = 401, "unauthorized"
    body = {"type": f"about:blank#{kind}", "status": status, "detail": exc.public(locale)}
    challenge = 'Bearer realm="RongMail"' if _browser_fetch(request) \
        else 'Basic realm="RongMail", Bearer realm="RongMail"'
    headers = {"WWW-Authenticate": challenge} if status == 401 else {}
    return web.json_response(body, status=status, headers=headers)


def _cookie(resp: web.StreamResponse, request: web.Request, value: str, max_age: int) -> None:
    resp.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                    secure=request.secure)


async def _strings(request: web.Request, locale: str,
                   fields: dict[str, int]) -> dict[str, str] | web.Response:
    """The JSON object of a login step with string ``fields`` (name: maximum length), or the
    415/400 problem to answer. JSON only: a cross-site form cannot send it without a CORS
    preflight."""
    bad = {"type": "about:blank#badRequest", "detail": t("web.login.bad_request", locale)}
    if request.content_type != "application/json":
        return web.json_response({**bad, "status": 415}, status=415)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and len(body[k]) <= n for k, n in fields.items()):
        return web.json_response({**bad, "status": 400}, status=400)
    return {k: body[k] for k in fields}


async def login(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    locale = locale_of(request)
    body = await _strings(request, locale, {"username": 1024, "password": 4096})
    if isinstance(body, web.Response):
        return body
    if deps.auth is None:
        return auth_failure(AuthError(), locale, request)
    try:
        result = await deps.auth.authenticate(body["username"], body["password"],
                                              protocol="web", remote_ip=request.remote or "",
                                              user_agent=request.headers.get("User-Agent", ""))
    except StepUpRequired as exc:
        return step_up_response(exc, locale)
    except PasswordExpired as exc:
        return password_expired_response(exc, locale)
    except MailError as exc:
        return auth_failure(exc, locale, request)
    return await _start_session(request, result)


def step_up_response(exc: StepUpRequired, locale: str) -> web.Response:
    body = {"type": "about:blank#stepUp", "status": 401, "detail": exc.public(locale),
            "stepUp": exc.methods[0], "methods": list(exc.methods), "ticket": exc.ticket}
    return web.json_response(body, status=401, headers={"Cache-Control": "no-store"})


def password_expired_response(exc: PasswordExpired, locale: str) -> web.Response:
    """401 ``passwordExpired`` with the ticket for ``POST /api/login/change-password``; a
    mail-protocol refusal (no ticket) is an ordinary 401."""
    if not exc.ticket:
        return auth_failure(exc, locale)
    body = {"type": "about:blank#passwordExpired", "status": 401, "detail": exc.public(locale),
            "passwordExpired": True, "ticket": exc.ticket}
    return web.json_response(body, status=401, headers={"Cache-Control": "no-store"})


async def _start_session(request: web.Request, result: AuthResult) -> web.Response:
    deps = request.app[DEPS_KEY]
    ua = request.headers.get("User-Agent", "")
    token, csrf = await jact.do_create_token(deps.ctx, result.account.id, kind="session",
                                             name=ua[:200])
    security = getattr(deps.auth, "security", None)
    if security is not None:
        ip = request.remote or ""
        await auth_actions.do_record_session(
            deps.ctx, jact.token_hash(token), result.account, ip=ip, user_agent=ua,
            country=security.geoip.country(ip), method=result.method)
    resp = web.json_response({"csrfToken": csrf, "accountId": account_jmap_id(result.account),
                              "displayName": result.account.display_name,
                              "username": result.account.address})
    _cookie(resp, request, token, jact.SESSION_TTL)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def login_step_up(request: web.Request) -> web.Response:
    """Second step of a risky login: ``{ticket, code}`` → the session, as ``/api/login``."""
    deps = request.app[DEPS_KEY]
    locale = locale_of(request)
    body = await _strings(request, locale, {"ticket": 256, "code": 64})
    if isinstance(body, web.Response):
        return body
    if deps.auth is None or not hasattr(deps.auth, "complete_step_up"):
        return auth_failure(AuthError(), locale, request)
    try:
        result = await deps.auth.complete_step_up(body["ticket"], body["code"],
                                                   remote_ip=request.remote or "")
    except PasswordExpired as exc:
        return password_expired_response(exc, locale)
    except MailError as exc:
        return auth_failure(exc, locale, request)
    return await _start_session(request, result)


async def login_change_password(request: web.Request) -> web.Response:
    """Forced change of an expired password: ``{ticket, password}`` → the session, as
    ``/api/login``. A password the tenant policy refuses answers 400 with the reason, and the
    ticket stays valid until it expires."""
    deps = request.app[DEPS_KEY]
    locale = locale_of(request)
    body = await _strings(request, locale, {"ticket": 256, "password": 1024})
    if isinstance(body, web.Response):
        return body
    if deps.auth is None or not hasattr(deps.auth, "change_expired_password"):
        return auth_failure(AuthError(), locale, request)

    async def store(account: Account, password: str) -> None:
        await admin_actions.check_tenant_password(deps.ctx, account.tenant_id, password)
        await accounts.do_set_password(deps.ctx, account.address, password,
                                       check_password=False)

    try:
        result = await deps.auth.change_expired_password(
            body["ticket"], body["password"], remote_ip=request.remote or "", store=store)
    except ValidationError as exc:
        return web.json_response({"type": "about:blank#weakPassword", "status": 400,
                                  "detail": exc.public(locale), "code": exc.key}, status=400)
    except MailError as exc:
        return auth_failure(exc, locale, request)
    return await _start_session(request, result)


async def logout(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    try:
        principal = await http_auth(request.app).authenticate(request)
    except MailError as exc:
        return auth_failure(exc, locale_of(request), request)
    if principal.method == "session":
        http_auth(request.app).forget_token(request.cookies[COOKIE])
        await jact.do_revoke_token(deps.ctx, request.cookies[COOKIE])
    resp = web.json_response({})
    _cookie(resp, request, "", 0)
    return resp


async def me(request: web.Request) -> web.Response:
    try:
        principal = await http_auth(request.app).authenticate(request)
    except MailError as exc:
        return auth_failure(exc, locale_of(request), request)
    a = principal.account
    resp = web.json_response({"accountId": account_jmap_id(a), "displayName": a.display_name,
                              "username": a.address, "locale": a.locale,
                              "timezone": a.timezone, "csrfToken": principal.csrf or None})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def register(app: web.Application, deps: HttpDeps) -> None:
    http_auth(app)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/login/step-up", login_step_up)
    app.router.add_post("/api/login/change-password", login_change_password)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
