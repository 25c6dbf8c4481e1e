"""The quarantine HTTP API under ``/api/quarantine`` (issue 9), for the webmail and admins.

Authentication is the webmail's (``protocols/http/login.py``): the session cookie with the
``X-CSRF-Token`` header on every state-changing request, or a bearer token / Basic auth for
scripts. Who sees what:

* every user: their own held inbound messages (``account_id`` = theirs); they may release them,
  except malware (virus, dangerous attachment or archive, macro, YARA match: admins only);
* tenant admins (``tenant_admin``, legacy ``admin``): with ``?scope=tenant`` every row of their
  tenant, inbound and outbound; ``super_admin``: every tenant's (``?tenant=<id>`` narrows).

Endpoints (JSON; errors are problem details, RFC 9457, with translated ``detail``):

* ``GET /api/quarantine[?scope=tenant&status=held|released|deleted&direction=&before=&limit=]``
  → ``{"items": [...]}``: sender, subject, score and every tag with its weight and reason;
* ``GET /api/quarantine/{id}`` → one item; ``GET /api/quarantine/{id}/raw`` → the held bytes
  (``message/rfc822``, as an attachment, never rendered inline);
* ``POST /api/quarantine/{id}/release`` → delivers it (inbound: the recipient's Inbox; outbound:
  the queue, admins only) and trains the tenant's model with it as ham;
* ``POST /api/quarantine/{id}/delete`` → drops it and trains the model with it as spam.

``deps.extra["spam_models"]`` (a shared :class:`~rongmail.actions.spam.SpamModels`) enables the
learning feedback; without it release and delete still work.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rongmail.actions import spam as sa
from rongmail.core.models import Account
from rongmail.errors import (
    AuthError,
    Conflict,
    MailError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from rongmail.protocols.http.login import auth_failure, http_auth, locale_of
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.admin.roles import Role

PREFIX = "/api/quarantine"
_TENANT_ADMINS = frozenset({Role.TENANT_ADMIN, Role.SUPER_ADMIN})
_STATUSES = frozenset({"held", "released", "deleted"})
_MALWARE_PREFIXES = ("VIRUS_", "ATTACH_", "ARCHIVE_", "OFFICE_", "YARA_")


def _problem(exc: MailError, locale: str, request: web.Request) -> web.Response:
    if isinstance(exc, AuthError | RateLimited | PermissionDenied):
        return auth_failure(exc, locale, request)  # 401 with challenges, 403, 429
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Conflict):
        status = 409
    elif exc.temporary:
        status = 503
    else:
        status = 400
    return web.json_response({"type": "about:blank", "status": status,
                              "detail": exc.public(locale)}, status=status)


async def _principal(request: web.Request) -> Account:
    principal = await http_auth(request.app).authenticate(request)
    return principal.account


def _role(acct: Account) -> Role:
    return Role.parse(acct.role)


def _may_see(acct: Account, row: sa.QuarantineRow) -> bool:
    role = _role(acct)
    if role is Role.SUPER_ADMIN:
        return True
    if role in _TENANT_ADMINS and row.tenant_id == acct.tenant_id:
        return True
    return row.direction == "inbound" and row.account_id == acct.id


def _malware(row: sa.QuarantineRow) -> bool:
    """Held for a virus, a dangerous attachment or archive, a macro or a YARA rule."""
    return any(str(t.get("name", "")).startswith(_MALWARE_PREFIXES) for t in row.tags)


def _may_decide(acct: Account, row: sa.QuarantineRow, *, release: bool) -> bool:
    """Users decide on their own inbound mail, except releasing malware; outbound holds and
    malware releases are for admins only."""
    admin = _role(acct) is Role.SUPER_ADMIN or (
        _role(acct) in _TENANT_ADMINS and row.tenant_id == acct.tenant_id)
    if row.direction == "outbound" or (release and _malware(row)):
        return admin
    return _may_see(acct, row)


def _item(row: sa.QuarantineRow) -> dict[str, Any]:
    return row.to_json()


def _int(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(what=what) from None


async def _row(request: web.Request, acct: Account) -> sa.QuarantineRow:
    deps: HttpDeps = request.app[DEPS_KEY]
    qid = _int(request.match_info["qid"], "id")
    row = await sa.get_quarantine(deps.ctx, qid or 0)
    if row is None or not _may_see(acct, row):
        raise NotFound(what="quarantine")  # never reveal that someone else's row exists
    return row


async def list_items(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        acct = await _principal(request)
        deps: HttpDeps = request.app[DEPS_KEY]
        q = request.query
        status = q.get("status", "held")
        if status not in _STATUSES:
            raise ValidationError(what="status")
        direction = q.get("direction") or None
        if direction not in (None, "inbound", "outbound"):
            raise ValidationError(what="direction")
        limit = min(max(_int(q.get("limit"), "limit") or 100, 1), 500)
        before = _int(q.get("before"), "before")
        role = _role(acct)
        if q.get("scope") == "tenant":
            if role not in _TENANT_ADMINS:
                raise PermissionDenied()
            tenant: int | None = acct.tenant_id
            if role is Role.SUPER_ADMIN:
                tenant = _int(q.get("tenant"), "tenant")
            rows = await sa.list_quarantine(deps.ctx, tenant_id=tenant, status=status,
                                            direction=direction, before_id=before, limit=limit)
        else:
            rows = await sa.list_quarantine(deps.ctx, account_id=acct.id, status=status,
                                            direction="inbound", before_id=before, limit=limit)
    except MailError as exc:
        return _problem(exc, loc, request)
    resp = web.json_response({"items": [_item(r) for r in rows]})
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def get_item(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        row = await _row(request, await _principal(request))
    except MailError as exc:
        return _problem(exc, loc, request)
    resp = web.json_response(_item(row))
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def get_raw(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        row = await _row(request, await _principal(request))
        deps: HttpDeps = request.app[DEPS_KEY]
        data = await sa.quarantined_bytes(deps.ctx, row)
    except MailError as exc:
        return _problem(exc, loc, request)
    return web.Response(body=data, content_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="quarantine-{row.id}.eml"',
        "Cache-Control": "no-store"})


async def _decide(request: web.Request, *, release: bool) -> web.Response:
    loc = locale_of(request)
    try:
        acct = await _principal(request)
        row = await _row(request, acct)
        if not _may_decide(acct, row, release=release):
            raise PermissionDenied()
        deps: HttpDeps = request.app[DEPS_KEY]
        models = deps.extra.get("spam_models")
        fn = sa.do_release_quarantine if release else sa.do_delete_quarantine
        done = await fn(deps.ctx, row.id, actor_id=acct.id,
                        models=models if isinstance(models, sa.SpamModels) else None)
    except MailError as exc:
        return _problem(exc, loc, request)
    return web.json_response(_item(done))


async def release(request: web.Request) -> web.Response:
    return await _decide(request, release=True)


async def delete(request: web.Request) -> web.Response:
    return await _decide(request, release=False)


def register(app: web.Application, deps: HttpDeps) -> None:
    http_auth(app)
    app.router.add_get(PREFIX, list_items)
    app.router.add_get(PREFIX + "/{qid:\\d+}", get_item)
    app.router.add_get(PREFIX + "/{qid:\\d+}/raw", get_raw)
    app.router.add_post(PREFIX + "/{qid:\\d+}/release", release)
    app.router.add_post(PREFIX + "/{qid:\\d+}/delete", delete)
