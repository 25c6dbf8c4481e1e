"""Web single sign-on with OpenID Connect (relying party): ``GET /api/oidc/login`` redirects
to the provider; ``GET /api/oidc/callback`` completes the login and redirects to the webmail.

Invariants:

* ``state`` (CSRF, RFC 6749 §10.12), ``nonce`` (replay, OIDC Core §3.1.2.1) and the PKCE
  verifier (RFC 7636) are random per attempt, kept server-side for ten minutes and used once;
  the attempt is also bound to the browser by an HttpOnly cookie (SameSite=Lax, so it survives
  the top-level redirect back from the provider), so a callback link planted by an attacker
  cannot log the victim in as the attacker.
* The account is the one linked to (issuer, ``sub``); on a first sign-in it may be linked by a
  *verified* e-mail claim equal to an existing account (``security.oidc.link_by_email``). SSO
  never creates accounts.
* The login then goes through the one authenticator (frozen accounts, allowed networks, risk
  scoring, audit); a risky login still needs the local second factor (``stepUp``).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from aiohttp import web

from rongmail.actions import auth as aa
from rongmail.errors import AuthError, MailError
from rongmail.protocols.http import login as lg
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.auth.authenticate import StepUpRequired
from rongmail.services.auth.oidc import OidcClient, PendingLogin
from rongmail.services.auth.reads import SecurityReader

STATE_COOKIE = "rongmail_oidc"
PENDING_TTL = 600.0


class OidcState:
    def __init__(self, client: OidcClient) -> None:
        self.client = client
        self.pending: dict[str, PendingLogin] = {}

    def put(self, p: PendingLogin) -> None:
        now = time.monotonic()
        if len(self.pending) > 10_000:
            self.pending = {k: v for k, v in self.pending.items()
                            if now - v.created < PENDING_TTL}
        self.pending[p.state] = p

    def take(self, state: str) -> PendingLogin | None:
        p = self.pending.pop(state, None)
        if p is None or time.monotonic() - p.created > PENDING_TTL:
            return None
        return p


OIDC_KEY = web.AppKey("oidc_state", OidcState)


async def oidc_login(request: web.Request) -> web.StreamResponse:
    st = request.app[OIDC_KEY]
    try:
        url, pending = await st.client.begin()
    except MailError as exc:
        return lg.auth_failure(exc, lg.locale_of(request), request)
    st.put(pending)
    resp = web.HTTPFound(url)
    resp.set_cookie(STATE_COOKIE, pending.binding, max_age=int(PENDING_TTL), path="/api/oidc/",
                    httponly=True, samesite="Lax", secure=request.secure)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def oidc_callback(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS_KEY]
    st = request.app[OIDC_KEY]
    locale = lg.locale_of(request)
    pending = st.take(request.query.get("state", ""))
    binding = request.cookies.get(STATE_COOKIE, "")
    code = request.query.get("code", "")
    try:
        if pending is None or not binding or not hmac.compare_digest(binding, pending.binding) \
                or not code:
            raise AuthError(detail="oidc: unknown state or browser")
        claims = await st.client.finish(code, pending)
        account = await _account(request, st.client, claims)
        result = await deps.auth.authenticate_external(
            account, method="oidc", protocol="web", remote_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""))
    except StepUpRequired as exc:
        return lg.step_up_response(exc, locale)
    except MailError as exc:
        failed = lg.auth_failure(exc, locale, request)
        failed.headers.pop("WWW-Authenticate", None)  # a navigation: no Basic dialog
        return failed
    resp = await lg._start_session(request, result)
    redirect = web.HTTPFound("/")
    for name, morsel in resp.cookies.items():
        redirect.cookies[name] = morsel
    redirect.del_cookie(STATE_COOKIE, path="/api/oidc/")
    redirect.headers["Cache-Control"] = "no-store"
    return redirect


async def _account(request: web.Request, client: OidcClient, claims: dict[str, Any]) -> Any:
    deps = request.app[DEPS_KEY]
    reads = SecurityReader(deps.ctx.meta)
    sub = str(claims.get("sub", ""))
    account_id = await reads.account_for_identity(client.provider_key, sub)
    if account_id is not None:
        acct = await deps.reader.account(account_id)
        if acct is None:
            raise AuthError(detail="oidc: linked account gone")
        return acct
    email = claims.get("email")
    if not (client.settings.link_by_email and isinstance(email, str)
            and claims.get("email_verified") is True):
        raise AuthError("auth.oidc_no_account", detail="oidc: no linked account")
    acct = await deps.reader.account_by_address(email.lower())
    if acct is None or acct.disabled:
        raise AuthError("auth.oidc_no_account", detail="oidc: no account for e-mail")
    await aa.do_link_identity(deps.ctx, bytes(deps.auth.security.recorder.key), acct,
                              client.provider_key, sub, remote=request.remote or "")
    return acct


def register(app: web.Application, deps: HttpDeps) -> None:
    cfg = deps.settings.security.oidc
    if not cfg.enabled or getattr(deps.auth, "security", None) is None:
        return
    app[OIDC_KEY] = OidcState(OidcClient(cfg))
    app.router.add_get("/api/oidc/login", oidc_login)
    app.router.add_get("/api/oidc/callback", oidc_callback)
