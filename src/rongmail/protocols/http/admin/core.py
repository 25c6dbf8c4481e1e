"""The admin API's one request pipeline: authenticate, resolve the admin principal, check the
endpoint's permission, run the handler, render errors as RFC 9457 problem details.

Authentication is the HTTP layer's (``protocols.http.login.HttpAuth``: session cookie with
CSRF on writes, Bearer token, or Basic); this module only maps the account to an
:class:`~rongmail.services.admin.roles.AdminPrincipal`. Every endpoint declares one permission
in the route table; the pipeline refuses a role without it *before* any lookup (so forbidden
actions cost nothing and reveal nothing), and handlers call :meth:`AdminRequest.authorize` with
the target they resolved from the store for the scope check (tenant, domain, sensitive groups).
An object in another tenant is reported as not found, never as forbidden (no probing across
tenants).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from rongmail.actions.admin import Actor
from rongmail.core.address import normalize_address, normalize_domain
from rongmail.core.models import Account, Alias, Domain
from rongmail.errors import (
    AlreadyExists,
    AuthError,
    Conflict,
    MailError,
    NotFound,
    PermissionDenied,
    RateLimited,
    TemporaryError,
    ValidationError,
)
from rongmail.protocols.http.login import auth_failure, http_auth, locale_of
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.admin.reads import AdminReader
from rongmail.services.admin.roles import AdminPrincipal, Perm, Role, Target, allowed

PREFIX = "/api/admin"

Handler = Callable[["AdminRequest"], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below PREFIX, aiohttp syntax ("/users/{address}")
    perm: Perm | None  # None: any admin role
    handler: Handler
    summary: str
    tag: str
    #: JSON Schema of the request body (OpenAPI), None when there is none
    body: dict[str, Any] | None = None
    #: query parameters (name → description) for OpenAPI
    query: dict[str, str] = field(default_factory=dict)
    #: response media type when not JSON
    produces: str = "application/json"
    #: success status (201 for creations)
    status: int = 200


@dataclass
class AdminRequest:
    http: web.Request
    principal: AdminPrincipal
    deps: HttpDeps
    reads: AdminReader
    locale: str

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.account_id, self.principal.tenant_id,
                     self.http.remote or "", audit_key=audit_key(self.deps))

    def match(self, name: str) -> str:
        return self.http.match_info[name]

    def authorize(self, perm: Perm, target: Target) -> None:
        p = self.principal
        if allowed(p, perm, target):
            return
        if (p.role is not Role.SUPER_ADMIN and target.tenant_id is not None
                and target.tenant_id != p.tenant_id):
            raise NotFound(what="")
        raise PermissionDenied("admin.forbidden", detail=f"{p.role}:{perm}")

    async def body(self) -> dict[str, Any]:
        if self.http.content_type != "application/json":
            raise ValidationError("admin.json_required")
        try:
            data = await self.http.json()
        except (ValueError, UnicodeDecodeError):
            raise ValidationError("admin.json_required") from None
        if not isinstance(data, dict):
            raise ValidationError("admin.json_required")
        return data

    # -- resolving targets (each also authorizes) -----------------------------------------------

    async def domain(self, name: str, perm: Perm) -> Domain:
        try:
            dom = await self.reads.domain(normalize_domain(name))
        except MailError:
            dom = None
        if dom is None:
            raise NotFound("domain.unknown", domain=name)
        self.authorize(perm, Target(dom.tenant_id, dom.id))
        return dom

    async def account(self, address: str, perm: Perm) -> Account:
        try:
            acct = await self.reads.account_by_address(normalize_address(address))
        except MailError:
            acct = None
        if acct is None:
            raise NotFound("user.unknown", email=address)
        sensitive = await self.reads.is_sensitive(acct.address)
        self.authorize(perm, Target(acct.tenant_id, acct.domain_id, sensitive))
        return acct

    async def alias(self, address: str, perm: Perm) -> Alias:
        try:
            a = await self.reads.alias(normalize_address(address))
        except MailError:
            a = None
        if a is None:
            raise NotFound(what=address)
        self.authorize(perm, Target(a.tenant_id, a.domain_id))
        return a

    async def visible_domains(self, perm: Perm) -> list[Domain]:
        """The domains this principal may ``perm`` (lists are filtered, never refused)."""
        p = self.principal
        doms = await self.reads.domains(None if p.role is Role.SUPER_ADMIN else p.tenant_id)
        return [dm for dm in doms if allowed(p, perm, Target(dm.tenant_id, dm.id))]


def audit_key(deps: HttpDeps) -> bytes | None:
    """The identity layer's audit-chain key, when the authenticator was built with it
    (``app.build_authenticator``); admin actions then land in the chained audit log too."""
    security = getattr(deps.auth, "security", None)
    key = getattr(getattr(security, "recorder", None), "key", None)
    return key if isinstance(key, bytes) else None


# -- body helpers -------------------------------------------------------------------------------

def req_str(body: dict[str, Any], key: str, *, max_len: int = 320, default: str | None = None
            ) -> str:
    v = body.get(key, default)
    if not isinstance(v, str) or len(v) > max_len or (default is None and not v):
        raise ValidationError(what=key)
    return v


def opt_int(body: dict[str, Any], key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValidationError(what=key)
    return v


def opt_bool(body: dict[str, Any], key: str) -> bool | None:
    v = body.get(key)
    if v is not None and not isinstance(v, bool):
        raise ValidationError(what=key)
    return v


# -- the pipeline -------------------------------------------------------------------------------

_STATUS: list[tuple[type[MailError], int, str]] = [
    (ValidationError, 400, "invalid"), (AuthError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"), (NotFound, 404, "notFound"),
    (AlreadyExists, 409, "exists"), (Conflict, 409, "conflict"),
    (RateLimited, 429, "rateLimited"), (TemporaryError, 503, "unavailable"),
]


def problem(exc: MailError, locale: str) -> web.Response:
    status, kind = 500, "internal"
    for cls, st, k in _STATUS:
        if isinstance(exc, cls):
            status, kind = st, k
            break
    body = {"type": f"about:blank#{kind}", "status": status, "title": exc.key,
            "detail": exc.public(locale)}
    return web.json_response(body, status=status, content_type="application/problem+json",
                             headers={"Cache-Control": "no-store"})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


async def resolve_principal(reads: AdminReader, account: Account) -> AdminPrincipal:
    role = Role.parse(account.role)
    domains: frozenset[int] = frozenset()
    if role is Role.DOMAIN_ADMIN:
        scope = await reads.scope_domains(account.id)
        domains = frozenset(scope or [account.domain_id])
    return AdminPrincipal(account.id, account.address, role, account.tenant_id, domains)


READS_KEY = web.AppKey("admin_reads", AdminReader)


def wrap(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        locale = locale_of(request)
        try:
            who = await http_auth(request.app).authenticate(request)
        except MailError as exc:
            return auth_failure(exc, locale)
        reads = request.app[READS_KEY]
        try:
            principal = await resolve_principal(reads, who.account)
            if not principal.is_admin:
                raise PermissionDenied("admin.not_admin")
            if ep.perm is not None and ep.perm not in principal.perms():
                raise PermissionDenied("admin.forbidden", detail=f"{principal.role}:{ep.perm}")
            result = await ep.handler(AdminRequest(request, principal, request.app[DEPS_KEY],
                                                   reads, locale))
        except MailError as exc:
            return problem(exc, locale)
        if isinstance(result, web.StreamResponse):
            resp = result
        else:
            resp = web.json_response(result, dumps=_dumps, status=ep.status)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    handle.__name__ = ep.handler.__name__
    return handle
