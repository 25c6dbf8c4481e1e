"""Account security endpoints (issue 8): web sessions and remote sign-out with wipe, app
passwords, TOTP enrolment and recovery codes, passkeys (WebAuthn L2 registration and
sign-in, ``services.auth.passkeys``); admin views of the audit log, of a user's
sessions, freezing, unlocking a brute-force lockout (``actions.lockouts``), and allowed
networks.

All endpoints need a web session (cookie + ``X-CSRF-Token`` on writes, ``HttpAuth``): managing
credentials with a Basic or Bearer credential would let a stolen app password mint more. Admin
endpoints check the role with ``services.admin.roles`` (``AUDIT_READ``, ``USER_READ`` /
``USER_WRITE``, ``POLICY_READ`` / ``POLICY_WRITE``) against the target's tenant; an account of
another tenant is "not found". Every write goes through ``actions.auth`` /
``actions.lockouts`` and is audited there.

Wipe: a session signed out with ``wipe`` gets ``Clear-Site-Data: "cache", "cookies",
"storage"`` (W3C Clear Site Data) on its next request, so the PWA on a lost phone erases its
local mail copy; ``revokeAppPasswords`` also deletes the account's app passwords. Secrets (app
passwords, TOTP secrets, recovery codes) appear in exactly one response and are never logged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from rongmail.actions import auth as aa
from rongmail.actions import jmap as jact
from rongmail.actions import lockouts
from rongmail.core.models import Account
from rongmail.errors import (
    AuthError,
    MailError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from rongmail.protocols.http.login import COOKIE, Principal, auth_failure, http_auth, locale_of
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.admin.roles import AdminPrincipal, Perm, Role, Target, authorize
from rongmail.services.auth import totp
from rongmail.services.auth.passkeys import Challenge, PasskeyService
from rongmail.services.auth.reads import SecurityReader

CLEAR_SITE_DATA = '"cache", "cookies", "storage"'
READER_KEY = web.AppKey("security_reader", SecurityReader)

Handler = Callable[[web.Request, Principal], Awaitable[Any]]


def _key(request: web.Request) -> bytes:
    auth = request.app[DEPS_KEY].auth
    sec = getattr(auth, "security", None)
    if sec is None:
        raise PermissionDenied(detail="identity layer not configured")
    return bytes(sec.recorder.key)


def web_auth_failure(exc: MailError, locale: str) -> web.Response:
    """``auth_failure`` without the ``WWW-Authenticate: Basic`` challenge: these endpoints are
    called by the web app with ``fetch()``, where a Basic challenge would make the browser
    open its own password dialog."""
    resp = auth_failure(exc, locale)
    resp.headers.pop("WWW-Authenticate", None)
    return resp


def _problem(exc: MailError, locale: str) -> web.Response:
    if isinstance(exc, (AuthError, RateLimited)):
        return web_auth_failure(exc, locale)
    status = (
        404
        if isinstance(exc, NotFound)
        else 403
        if isinstance(exc, PermissionDenied)
        else 400
        if isinstance(exc, ValidationError)
        else 500
    )
    return web.json_response(
        {
            "type": f"about:blank#{exc.key}",
            "status": status,
            "title": exc.key,
            "detail": exc.public(locale),
        },
        status=status,
        headers={"Cache-Control": "no-store"},
    )


def endpoint(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        locale = locale_of(request)
        try:
            who = await http_auth(request.app).authenticate(request)
            if who.method != "session":
                raise PermissionDenied("security.session_required")
            result = await fn(request, who)
        except MailError as exc:
            return _problem(exc, locale)
        resp = result if isinstance(result, web.StreamResponse) else web.json_response(result)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    handle.__name__ = fn.__name__
    return handle


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type != "application/json":
        raise ValidationError(what="content-type")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(what="body") from None
    if not isinstance(body, dict):
        raise ValidationError(what="body")
    return body


def _int(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound(what="id")
    return int(value)


def _current_hash(request: web.Request) -> str | None:
    cookie = request.cookies.get(COOKIE)
    return jact.token_hash(cookie) if cookie else None


def _session_json(s: Any, current: str | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "ip": s.ip,
        "userAgent": s.user_agent,
        "country": s.country,
        "method": s.method,
        "createdAt": s.created_at,
        "lastSeen": s.last_seen,
        "expiresAt": s.expires_at,
        "current": s.token_hash == current,
    }


def _ap_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "protocols": list(r.protocols),
        "createdAt": r.created_at,
        "lastUsedAt": r.last_used_at,
        "lastIp": r.last_ip,
    }


# -- the user's own security --------------------------------------------------------------------


async def overview(request: web.Request, who: Principal) -> dict[str, Any]:
    reads = request.app[READER_KEY]
    a = who.account
    current = _current_hash(request)
    return {
        "totp": await reads.totp_state(a.id),
        "recoveryCodesLeft": await reads.recovery_codes_left(a.id),
        "appPasswords": [_ap_json(r) for r in await reads.app_passwords(a.id)],
        "sessions": [_session_json(s, current) for s in await reads.sessions(a.id)],
    }


async def list_sessions(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    current = _current_hash(request)
    return [
        _session_json(s, current) for s in await request.app[READER_KEY].sessions(who.account.id)
    ]


async def _revoke(
    request: web.Request, account: Account, session_id: int, actor: Account
) -> dict[str, Any]:
    body = await _json(request)
    wipe = body.get("wipe") is True
    revoke_aps = body.get("revokeAppPasswords") is True
    h = await aa.do_revoke_session(
        request.app[DEPS_KEY].ctx,
        _key(request),
        account,
        session_id,
        wipe=wipe,
        revoke_app_passwords=revoke_aps,
        actor_id=actor.id,
        remote=request.remote or "",
    )
    http_auth(request.app).forget_hashes([h])
    return {"revoked": session_id, "wipe": wipe, "appPasswordsRevoked": revoke_aps}


async def revoke_session(request: web.Request, who: Principal) -> dict[str, Any]:
    return await _revoke(request, who.account, _int(request.match_info["id"]), who.account)


async def revoke_other_sessions(request: web.Request, who: Principal) -> dict[str, Any]:
    body = await _json(request)
    hashes = await aa.do_revoke_other_sessions(
        request.app[DEPS_KEY].ctx,
        _key(request),
        who.account,
        keep=_current_hash(request),
        wipe=body.get("wipe") is True,
        remote=request.remote or "",
    )
    http_auth(request.app).forget_hashes(hashes)
    return {"revoked": len(hashes)}


async def list_app_passwords(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    return [_ap_json(r) for r in await request.app[READER_KEY].app_passwords(who.account.id)]


async def create_app_password(request: web.Request, who: Principal) -> web.Response:
    body = await _json(request)
    name, protocols = body.get("name"), body.get("protocols")
    if (
        not isinstance(name, str)
        or not isinstance(protocols, list)
        or not all(isinstance(p, str) for p in protocols)
    ):
        raise ValidationError(what="body")
    deps = request.app[DEPS_KEY]
    secret, row = await aa.do_create_app_password(
        deps.ctx,
        _key(request),
        who.account,
        name,
        protocols,
        remote=request.remote or "",
        limit=deps.settings.security.app_password_max,
    )
    return web.json_response({**_ap_json(row), "password": secret}, status=201)


async def delete_app_password(request: web.Request, who: Principal) -> dict[str, Any]:
    ap_id = _int(request.match_info["id"])
    await aa.do_delete_app_password(
        request.app[DEPS_KEY].ctx,
        _key(request),
        who.account,
        ap_id,
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    return {"deleted": ap_id}


async def totp_begin(request: web.Request, who: Principal) -> dict[str, Any]:
    deps = request.app[DEPS_KEY]
    secret, uri = await aa.do_begin_totp(
        deps.ctx,
        _key(request),
        who.account,
        issuer=deps.settings.security.totp_issuer,
        remote=request.remote or "",
    )
    return {"secret": secret, "uri": uri}


async def totp_confirm(request: web.Request, who: Principal) -> dict[str, Any]:
    body = await _json(request)
    code = body.get("code")
    if not isinstance(code, str):
        raise ValidationError(what="code")
    deps = request.app[DEPS_KEY]
    sec = deps.settings.security
    codes = await aa.do_confirm_totp(
        deps.ctx,
        _key(request),
        who.account,
        code,
        window=sec.totp_window,
        recovery_count=sec.recovery_codes,
        remote=request.remote or "",
    )
    return {"recoveryCodes": codes}


async def _prove_factor(request: web.Request, account: Account, code: object) -> None:
    """The current second factor (TOTP or a recovery code), for disabling or regenerating."""
    if not isinstance(code, str) or len(code) > 64:
        raise ValidationError("security.totp.bad_code")
    rec = request.app[DEPS_KEY].auth.security.recorder
    if totp.looks_like_recovery_code(code):
        if await rec.use_recovery_code(account, totp.recovery_hash(code)):
            return
    else:
        secret = await rec.totp_secret(account)
        window = request.app[DEPS_KEY].settings.security.totp_window
        step = totp.matching_step(secret, code, window=window) if secret else None
        if step is not None and await rec.accept_totp_step(account, step):
            return
    raise ValidationError("security.totp.bad_code")


async def totp_disable(request: web.Request, who: Principal) -> dict[str, Any]:
    body = await _json(request)
    await _prove_factor(request, who.account, body.get("code"))
    await aa.do_disable_totp(
        request.app[DEPS_KEY].ctx,
        _key(request),
        who.account,
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    return {"totp": "off"}


async def recovery_codes(request: web.Request, who: Principal) -> dict[str, Any]:
    body = await _json(request)
    await _prove_factor(request, who.account, body.get("code"))
    deps = request.app[DEPS_KEY]
    codes = await aa.do_regenerate_recovery_codes(
        deps.ctx,
        _key(request),
        who.account,
        count=deps.settings.security.recovery_codes,
        remote=request.remote or "",
    )
    return {"recoveryCodes": codes}


# -- admin --------------------------------------------------------------------------------------


async def _admin(request: web.Request, who: Principal) -> AdminPrincipal:
    """The caller as the admin API sees it: a domain admin's domains come from its
    ``admin_scope`` (its own mailbox's domain only when the scope is empty)."""
    from rongmail.protocols.http.admin.core import resolve_principal
    from rongmail.services.admin.reads import AdminReader

    if Role.parse(who.account.role) is Role.USER:
        raise PermissionDenied("admin.not_admin")
    ctx = request.app[DEPS_KEY].ctx
    return await resolve_principal(AdminReader(ctx.meta, ctx.keys), who.account)


async def _target(request: web.Request, admin: AdminPrincipal, perm: Perm) -> Account:
    from rongmail.core.address import normalize_address

    try:
        address = normalize_address(request.match_info["address"])
    except MailError:
        raise NotFound(what="account") from None
    acct = await request.app[DEPS_KEY].reader.account_by_address(address)
    if acct is None or (admin.role is not Role.SUPER_ADMIN and acct.tenant_id != admin.tenant_id):
        raise NotFound(what="account")
    authorize(admin, perm, Target(acct.tenant_id, acct.domain_id))
    return acct


def _opt_int(request: web.Request, name: str) -> int | None:
    v = request.query.get(name)
    if v is None or v == "":
        return None
    if not v.lstrip("-").isdigit():
        raise ValidationError(what=name)
    return int(v)


async def admin_audit(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    admin = await _admin(request, who)
    authorize(admin, Perm.AUDIT_READ)
    tenant = None if admin.role is Role.SUPER_ADMIN else admin.tenant_id
    account_id = None
    if request.query.get("account"):
        acct = await request.app[DEPS_KEY].reader.account_by_address(
            request.query["account"].lower()
        )
        account_id = acct.id if acct else -1
    limit = min(max(_opt_int(request, "limit") or 200, 1), 1000)
    rows = await request.app[READER_KEY].audit(
        tenant_id=tenant,
        account_id=account_id,
        category=request.query.get("category"),
        since=_opt_int(request, "since"),
        until=_opt_int(request, "until"),
        before_seq=_opt_int(request, "before"),
        limit=limit,
    )
    return [{**e.fields(), "detail": json.loads(e.detail), "digest": e.digest} for e in rows]


async def admin_audit_export(request: web.Request, who: Principal) -> web.StreamResponse:
    """Every visible entry as JSON Lines (stored columns: re-verifiable by a super admin)."""
    admin = await _admin(request, who)
    authorize(admin, Perm.AUDIT_READ)
    tenant = None if admin.role is Role.SUPER_ADMIN else admin.tenant_id
    await aa.do_audit(
        request.app[DEPS_KEY].ctx,
        _key(request),
        category="export",
        action="audit.exported",
        account=who.account,
        actor_id=who.account.id,
        remote=request.remote or "",
        detail={"tenant": tenant},
    )
    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson",
            "Content-Disposition": "attachment; filename=audit.jsonl",
        }
    )
    await resp.prepare(request)
    before: int | None = None
    while True:
        rows = await request.app[READER_KEY].audit(tenant_id=tenant, before_seq=before, limit=1000)
        if not rows:
            break
        for e in rows:
            line = {**e.fields(), "prev": e.prev, "digest": e.digest}
            await resp.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
        before = rows[-1].seq
    await resp.write_eof()
    return resp


async def admin_sessions(request: web.Request, who: Principal) -> dict[str, Any]:
    admin = await _admin(request, who)
    acct = await _target(request, admin, Perm.USER_READ)
    reads = request.app[READER_KEY]
    frozen = await reads.frozen(acct.id)
    return {
        "account": acct.address,
        "frozen": {"at": frozen[0], "reason": frozen[1]} if frozen else None,
        "sessions": [_session_json(s, None) for s in await reads.sessions(acct.id)],
        "appPasswords": [_ap_json(r) for r in await reads.app_passwords(acct.id)],
    }


async def admin_revoke_session(request: web.Request, who: Principal) -> dict[str, Any]:
    admin = await _admin(request, who)
    acct = await _target(request, admin, Perm.USER_WRITE)
    return await _revoke(request, acct, _int(request.match_info["id"]), who.account)


async def admin_freeze(request: web.Request, who: Principal) -> dict[str, Any]:
    admin = await _admin(request, who)
    acct = await _target(request, admin, Perm.USER_WRITE)
    body = await _json(request)
    reason = body.get("reason") if isinstance(body.get("reason"), str) else "admin"
    hashes = await aa.do_freeze_account(
        request.app[DEPS_KEY].ctx,
        _key(request),
        acct,
        reason=str(reason),
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    http_auth(request.app).forget_hashes(hashes)
    return {"frozen": True, "sessionsRevoked": len(hashes)}


async def admin_unfreeze(request: web.Request, who: Principal) -> dict[str, Any]:
    admin = await _admin(request, who)
    acct = await _target(request, admin, Perm.USER_WRITE)
    await aa.do_unfreeze_account(
        request.app[DEPS_KEY].ctx,
        _key(request),
        acct,
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    return {"frozen": False}


async def admin_unlock(request: web.Request, who: Principal) -> dict[str, Any]:
    """Clear the brute-force lockout of an account (every source), audited."""
    admin = await _admin(request, who)
    acct = await _target(request, admin, Perm.USER_WRITE)
    removed = await lockouts.do_unlock_account(
        request.app[DEPS_KEY].ctx,
        _key(request),
        acct,
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    auth = request.app[DEPS_KEY].auth
    if auth is not None and hasattr(auth, "forget_blocks"):
        auth.forget_blocks(acct.address)
    return {"ok": True, "cleared": removed}


async def admin_lockouts(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    """Brute-force lockouts in force (``[security.lockout]``), newest block first: a super
    admin sees every one (``login`` "" = a whole source network blocked for spraying), a
    tenant admin or helpdesk those of the tenant's accounts, a domain admin those of its
    domains' accounts."""
    admin = await _admin(request, who)
    authorize(admin, Perm.USER_READ)
    if admin.role is Role.SUPER_ADMIN:
        tenant, domains = None, None
    else:
        tenant = admin.tenant_id
        domains = admin.domain_ids if admin.role is Role.DOMAIN_ADMIN else None
    rows = await request.app[READER_KEY].lockouts(tenant_id=tenant, domain_ids=domains)
    return [
        {
            "login": r.login,
            "source": r.source,
            "failures": r.failures,
            "blockedUntil": r.blocked_until,
        }
        for r in rows
    ]


async def admin_get_networks(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    admin = await _admin(request, who)
    authorize(admin, Perm.POLICY_READ, Target(admin.tenant_id))
    rows = await request.app[READER_KEY].allowed_networks(admin.tenant_id)
    return [{"role": r, "cidr": c} for r, c in rows]


async def admin_put_networks(request: web.Request, who: Principal) -> dict[str, Any]:
    admin = await _admin(request, who)
    authorize(admin, Perm.POLICY_WRITE, Target(admin.tenant_id))
    body = await _json(request)
    role, cidrs = body.get("role", ""), body.get("cidrs")
    if (
        not isinstance(role, str)
        or not isinstance(cidrs, list)
        or not all(isinstance(c, str) for c in cidrs)
    ):
        raise ValidationError(what="body")
    if role and role not in {r.value for r in Role}:
        raise ValidationError(what="role")
    saved = await aa.do_set_allowed_networks(
        request.app[DEPS_KEY].ctx,
        _key(request),
        admin.tenant_id,
        role,
        cidrs,
        actor_id=who.account.id,
        remote=request.remote or "",
    )
    return {"role": role, "cidrs": saved}


@dataclass(frozen=True)
class ConsoleRoute:
    """One admin route of the security console: mounted by :func:`register` and published in
    the admin OpenAPI document (``protocols.http.admin.openapi``) as web-session only, with the
    roles holding ``perm``. The handler enforces ``perm`` itself (against the target's tenant
    and domain); the role-matrix test checks that both agree."""

    method: str
    path: str  # below /api/admin, aiohttp syntax
    perm: Perm
    handler: Handler
    summary: str
    tag: str = "security"
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    produces: str = "application/json"
    status: int = 200


_AUDIT_QUERY = {
    "account": "Only entries about this address",
    "category": "login, security, admin, export...",
    "since": "Unix seconds",
    "until": "Unix seconds",
    "before": "Entries with a lower seq (paging)",
    "limit": "1-1000 (200)",
}
_ACCOUNT = "/security/accounts/{address}"

#: the admin routes of the security console (issue 8)
CONSOLE: list[ConsoleRoute] = [
    ConsoleRoute(
        "GET",
        "/security/audit",
        Perm.AUDIT_READ,
        admin_audit,
        "Audit log entries, newest first (hash-chained)",
        query=_AUDIT_QUERY,
    ),
    ConsoleRoute(
        "GET",
        "/security/audit/export",
        Perm.AUDIT_READ,
        admin_audit_export,
        "Every visible audit entry as JSON Lines (audited)",
        produces="application/x-ndjson",
    ),
    ConsoleRoute(
        "GET",
        "/security/networks",
        Perm.POLICY_READ,
        admin_get_networks,
        "Allowed networks of the tenant, per role",
    ),
    ConsoleRoute(
        "PUT",
        "/security/networks",
        Perm.POLICY_WRITE,
        admin_put_networks,
        "Replace the allowed networks of one role",
        body={
            "type": "object",
            "required": ["role", "cidrs"],
            "properties": {
                "role": {"type": "string"},
                "cidrs": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
    ConsoleRoute(
        "GET",
        "/security/lockouts",
        Perm.USER_READ,
        admin_lockouts,
        'Brute-force lockouts in force in the caller\'s scope (login "" = a whole source network)',
    ),
    ConsoleRoute(
        "GET",
        _ACCOUNT,
        Perm.USER_READ,
        admin_sessions,
        "An account's web sessions, devices and freeze state",
    ),
    ConsoleRoute(
        "POST",
        _ACCOUNT + "/sessions/{id}/revoke",
        Perm.USER_WRITE,
        admin_revoke_session,
        "Sign one web session out (optionally wipe)",
        body={
            "type": "object",
            "properties": {"wipe": {"type": "boolean"}, "revokeAppPasswords": {"type": "boolean"}},
        },
    ),
    ConsoleRoute(
        "POST",
        _ACCOUNT + "/freeze",
        Perm.USER_WRITE,
        admin_freeze,
        "Freeze the account and revoke its sessions",
        body={"type": "object", "properties": {"reason": {"type": "string"}}},
    ),
    ConsoleRoute("POST", _ACCOUNT + "/unfreeze", Perm.USER_WRITE, admin_unfreeze, "Lift a freeze"),
    ConsoleRoute(
        "POST",
        _ACCOUNT + "/unlock",
        Perm.USER_WRITE,
        admin_unlock,
        "Clear the brute-force lockout of the account from every source (audited)",
    ),
]


# -- wipe on next contact -----------------------------------------------------------------------


@web.middleware
async def clear_site_data(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A request carrying a session cookie that was signed out with "wipe" gets
    ``Clear-Site-Data`` (once; the browser then holds no cookie to send again)."""
    resp = await handler(request)
    cookie = request.cookies.get(COOKIE)
    if resp.status == 401 and cookie and not resp.prepared:
        deps = request.app[DEPS_KEY]
        if await aa.do_take_wipe(deps.ctx, jact.token_hash(cookie)):
            resp.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return resp


def register(app: web.Application, deps: HttpDeps) -> None:
    from rongmail.protocols.http import oidc

    oidc.register(app, deps)
    app[READER_KEY] = SecurityReader(deps.ctx.meta)
    register_passkeys(app, deps)
    app.middlewares.append(clear_site_data)
    sec = getattr(deps.auth, "security", None)
    if sec is not None:
        sec.recorder.on_revoke = http_auth(app).forget_hashes
    r = app.router
    r.add_get("/api/security", endpoint(overview))
    r.add_get("/api/security/sessions", endpoint(list_sessions))
    r.add_post("/api/security/sessions/revoke-others", endpoint(revoke_other_sessions))
    r.add_post("/api/security/sessions/{id}/revoke", endpoint(revoke_session))
    r.add_get("/api/security/app-passwords", endpoint(list_app_passwords))
    r.add_post("/api/security/app-passwords", endpoint(create_app_password))
    r.add_delete("/api/security/app-passwords/{id}", endpoint(delete_app_password))
    r.add_post("/api/security/totp/begin", endpoint(totp_begin))
    r.add_post("/api/security/totp/confirm", endpoint(totp_confirm))
    r.add_post("/api/security/totp/disable", endpoint(totp_disable))
    r.add_post("/api/security/recovery-codes", endpoint(recovery_codes))
    for route in CONSOLE:
        r.add_route(route.method, "/api/admin" + route.path, endpoint(route.handler))


# -- passkeys (WebAuthn L2) ---------------------------------------------------------------------


class PasskeyState:
    """Pending WebAuthn challenges: per account (registration) and per ticket (login)."""

    def __init__(self, service: PasskeyService) -> None:
        self.service = service
        self.registering: dict[int, Challenge] = {}
        self.logins: dict[str, Challenge] = {}

    def gc(self) -> None:
        if len(self.logins) > 10_000:
            self.logins = {k: v for k, v in self.logins.items() if v.fresh()}
        if len(self.registering) > 10_000:
            self.registering = {k: v for k, v in self.registering.items() if v.fresh()}


PASSKEY_KEY = web.AppKey("passkeys", PasskeyState)


async def passkey_register_begin(request: web.Request, who: Principal) -> dict[str, Any]:
    st = request.app[PASSKEY_KEY]
    a = who.account
    existing = [p.credential_id for p in await request.app[READER_KEY].passkeys(a.id)]
    options, challenge = st.service.registration_options(a.id, a.address, a.display_name, existing)
    st.gc()
    st.registering[a.id] = challenge
    return options


async def passkey_register_finish(request: web.Request, who: Principal) -> web.Response:
    st = request.app[PASSKEY_KEY]
    body = await _json(request)
    credential, name = body.get("credential"), body.get("name", "")
    challenge = st.registering.pop(who.account.id, None)
    if not isinstance(credential, dict) or not isinstance(name, str) or challenge is None:
        raise ValidationError("security.passkey.invalid")
    new = st.service.verify_registration(credential, challenge)
    row = await aa.do_add_passkey(
        request.app[DEPS_KEY].ctx,
        _key(request),
        who.account,
        new,
        name,
        remote=request.remote or "",
    )
    return web.json_response({"id": row.id, "name": row.name}, status=201)


async def list_passkeys(request: web.Request, who: Principal) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "name": p.name,
            "createdAt": p.created_at,
            "lastUsedAt": p.last_used_at,
            "transports": list(p.transports),
        }
        for p in await request.app[READER_KEY].passkeys(who.account.id)
    ]


async def delete_passkey(request: web.Request, who: Principal) -> dict[str, Any]:
    pk_id = _int(request.match_info["id"])
    await aa.do_delete_passkey(
        request.app[DEPS_KEY].ctx, _key(request), who.account, pk_id, remote=request.remote or ""
    )
    return {"deleted": pk_id}


async def passkey_login_begin(request: web.Request) -> web.Response:
    """Unauthenticated: options for a passkey sign-in. With ``username`` the account's
    credentials are listed; without, the authenticator offers its discoverable ones. An
    unknown name gets an empty list (indistinguishable from a discoverable-only request)."""
    st = request.app[PASSKEY_KEY]
    locale = locale_of(request)
    try:
        body = await _json(request)
        allowed: list[str] = []
        username = body.get("username")
        if isinstance(username, str) and username:
            acct = await request.app[DEPS_KEY].reader.account_by_address(username.lower())
            if acct is not None:
                allowed = [p.credential_id for p in await request.app[READER_KEY].passkeys(acct.id)]
    except MailError as exc:
        return _problem(exc, locale)
    options, challenge = st.service.authentication_options(allowed)
    ticket = secrets.token_urlsafe(24)
    st.gc()
    st.logins[ticket] = challenge
    return web.json_response(
        {"ticket": ticket, "options": options}, headers={"Cache-Control": "no-store"}
    )


async def passkey_login_finish(request: web.Request) -> web.StreamResponse:
    from rongmail.protocols.http import login as lg
    from rongmail.services.auth.authenticate import StepUpRequired

    st = request.app[PASSKEY_KEY]
    deps = request.app[DEPS_KEY]
    locale = locale_of(request)
    try:
        body = await _json(request)
        ticket, credential = body.get("ticket"), body.get("credential")
        challenge = st.logins.pop(ticket, None) if isinstance(ticket, str) else None
        if (
            challenge is None
            or not isinstance(credential, dict)
            or not isinstance(credential.get("id"), str)
        ):
            raise AuthError("auth.step_up_expired")
        await deps.auth.check_allowed(credential["id"][:64], request.remote or "")
        row = await request.app[READER_KEY].passkey(credential["id"])
        if row is None:
            raise AuthError(detail="unknown passkey")
        count = st.service.verify_authentication(
            credential, challenge, public_key=row.public_key, sign_count=row.sign_count
        )
        if not await aa.do_use_passkey(deps.ctx, row, count):
            raise AuthError(detail="passkey counter race")
        acct = await deps.reader.account(row.account_id)
        if acct is None:
            raise AuthError(detail="passkey account gone")
        result = await deps.auth.authenticate_external(
            acct,
            method="passkey",
            protocol="web",
            remote_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    except StepUpRequired as exc:
        return lg.step_up_response(exc, locale)
    except MailError as exc:
        return web_auth_failure(exc, locale)
    return await lg._start_session(request, result)


def register_passkeys(app: web.Application, deps: HttpDeps) -> None:
    sec = deps.settings.security
    rp_id = sec.webauthn_rp_id or deps.settings.server.hostname
    app[PASSKEY_KEY] = PasskeyState(
        PasskeyService(rp_id, sec.webauthn_rp_name, sec.webauthn_origins)
    )
    r = app.router
    r.add_post("/api/security/passkeys/register/begin", endpoint(passkey_register_begin))
    r.add_post("/api/security/passkeys/register/finish", endpoint(passkey_register_finish))
    r.add_get("/api/security/passkeys", endpoint(list_passkeys))
    r.add_delete("/api/security/passkeys/{id}", endpoint(delete_passkey))
    r.add_post("/api/login/passkey/begin", passkey_login_begin)
    r.add_post("/api/login/passkey/finish", passkey_login_finish)
