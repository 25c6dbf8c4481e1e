"""The quarantine HTTP API under ``/api/quarantine`` (issue 9), for the webmail and admins.

Authentication is the webmail's (``protocols/http/login.py``): the session cookie with the
``X-CSRF-Token`` header on every state-changing request, or a bearer token / Basic auth for
scripts. Who sees what:

* every user: their own held inbound messages (``account_id`` = theirs); they may release them,
  except malware (virus, dangerous attachment or archive, macro, YARA match: admins only);
* tenant admins (``tenant_admin``, legacy ``admin``): with ``?scope=tenant`` every row of their
  tenant, inbound and outbound; ``super_admin``: every tenant's (``?tenant=<id>`` narrows).

Endpoints (JSON; errors are problem details, RFC 9457, with translated ``detail``):

* ``GET /api/quarantine[?scope=tenant&status=held|released|deleted&direction=&before=&limit=
  &rcpt=&tag=]`` → ``{"items": [...], "next": <id>|null}``: sender, subject, score, every tag
  with its weight and reason (en and zh), and ``account`` (the holding mailbox's address).
  ``rcpt`` narrows an admin's list to one mailbox of the tenant; ``tag`` keeps the rows carrying
  that tag (scanning at most ``_SCAN_CAP`` rows per request). ``next`` is the ``before`` value
  of the following page (``null``: nothing more). A user's own list shows only their own
  address in ``rcpts``: other envelope recipients of the same message (Bcc) stay private;
* ``GET /api/quarantine/{id}`` → one item; ``GET /api/quarantine/{id}/raw`` → the held bytes
  (``message/rfc822``, as an attachment, never rendered inline);
* ``GET /api/quarantine/{id}/preview`` → the held message as *plain data* for a preview pane:
  addresses, date, subject, the best plain text (HTML converted to text, at most
  ``PREVIEW_CHARS`` characters, control characters removed) and the attachment list (name,
  type, size). Nothing in it is HTML, no link is followed, no attachment is served;
* ``POST /api/quarantine/{id}/release`` → delivers it (inbound: the recipient's Inbox; outbound:
  the queue, admins only) and trains the tenant's model with it as ham;
* ``POST /api/quarantine/{id}/delete`` → drops it and trains the model with it as spam.

``deps.extra["spam_models"]`` (a shared :class:`~rongmail.actions.spam.SpamModels`) enables the
learning feedback; without it release and delete still work.
"""

from __future__ import annotations

import asyncio
import re
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
from rongmail.mime.model import Addr
from rongmail.mime.parse import parse_message
from rongmail.protocols.http.login import auth_failure, http_auth, locale_of
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.admin.roles import Role

PREFIX = "/api/quarantine"
_TENANT_ADMINS = frozenset({Role.TENANT_ADMIN, Role.SUPER_ADMIN})
_STATUSES = frozenset({"held", "released", "deleted"})
_MALWARE_PREFIXES = ("VIRUS_", "ATTACH_", "ARCHIVE_", "OFFICE_", "YARA_")
#: Rows a tag-filtered list request reads at most before it answers with a ``next`` cursor.
_SCAN_CAP = 2000
_SCAN_PAGE = 500
#: Longest preview text returned (characters); the raw bytes stay downloadable.
PREVIEW_CHARS = 20_000
_TAG_NAME = re.compile(r"^[A-Z0-9_]{1,64}$")
#: C0/C1 controls except TAB and LF, and the bidi overrides that can disguise text.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
    return web.json_response(
        {"type": "about:blank", "status": status, "detail": exc.public(locale)}, status=status
    )


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
        _role(acct) in _TENANT_ADMINS and row.tenant_id == acct.tenant_id
    )
    if row.direction == "outbound" or (release and _malware(row)):
        return admin
    return _may_see(acct, row)


def _item(row: sa.QuarantineRow, account: str = "", *, own: str | None = None) -> dict[str, Any]:
    """One row as JSON; ``own`` (a user's own list) narrows ``rcpts`` to that address."""
    out = row.to_json()
    out["account"] = account
    if own is not None:
        out["rcpts"] = [r for r in out["rcpts"] if r.lower() == own.lower()] or [own]
    return out


async def _addresses(deps: HttpDeps, rows: list[sa.QuarantineRow]) -> dict[int, str]:
    """Account id -> address for the rows' holding mailboxes (one lookup per account)."""
    out: dict[int, str] = {}
    for aid in {r.account_id for r in rows if r.account_id is not None}:
        a = await deps.reader.account(aid)
        out[aid] = a.address if a else ""
    return out


async def _scan(
    deps: HttpDeps,
    *,
    tag: str | None,
    limit: int,
    before: int | None,
    **filters: Any,
) -> tuple[list[sa.QuarantineRow], int | None]:
    """Rows newest first matching ``filters`` (and carrying ``tag``), with the next cursor."""
    page = limit if tag is None else _SCAN_PAGE
    out: list[sa.QuarantineRow] = []
    cursor, scanned = before, 0
    while scanned < _SCAN_CAP:
        rows = await sa.list_quarantine(deps.ctx, before_id=cursor, limit=page, **filters)
        for r in rows:
            scanned += 1
            cursor = r.id
            if tag is None or any(t.get("name") == tag for t in r.tags):
                out.append(r)
                if len(out) >= limit:
                    return out, r.id
        if len(rows) < page:
            return out, None
    return out, cursor


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
        tag = q.get("tag") or None
        if tag is not None and not _TAG_NAME.match(tag):
            raise ValidationError(what="tag")
        role = _role(acct)
        own: str | None = None
        if q.get("scope") == "tenant":
            if role not in _TENANT_ADMINS:
                raise PermissionDenied()
            tenant: int | None = acct.tenant_id
            if role is Role.SUPER_ADMIN:
                tenant = _int(q.get("tenant"), "tenant")
            account_id: int | None = None
            rcpt = (q.get("rcpt") or "").strip().lower()
            if rcpt:
                holder = await deps.reader.account_by_address(rcpt)
                if holder is None or (tenant is not None and holder.tenant_id != tenant):
                    holder = None
                account_id = holder.id if holder else -1  # -1: no such mailbox, no rows
            filters: dict[str, Any] = {
                "tenant_id": tenant,
                "account_id": account_id,
                "direction": direction,
            }
        else:
            own = acct.address
            filters = {"account_id": acct.id, "direction": "inbound"}
        rows, nxt = await _scan(deps, tag=tag, limit=limit, before=before, status=status, **filters)
        names = await _addresses(deps, rows)
    except MailError as exc:
        return _problem(exc, loc, request)
    items = [_item(r, names.get(r.account_id or 0, ""), own=own) for r in rows]
    resp = web.json_response({"items": items, "next": nxt})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _own(acct: Account, row: sa.QuarantineRow) -> str | None:
    """The address to narrow ``rcpts`` to when ``acct`` sees ``row`` only as its recipient."""
    admin = _role(acct) is Role.SUPER_ADMIN or (
        _role(acct) in _TENANT_ADMINS and row.tenant_id == acct.tenant_id
    )
    return None if admin else acct.address


async def _one(request: web.Request, acct: Account, row: sa.QuarantineRow) -> dict[str, Any]:
    names = await _addresses(request.app[DEPS_KEY], [row])
    return _item(row, names.get(row.account_id or 0, ""), own=_own(acct, row))


async def get_item(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        acct = await _principal(request)
        row = await _row(request, acct)
        body = await _one(request, acct, row)
    except MailError as exc:
        return _problem(exc, loc, request)
    resp = web.json_response(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def _held(request: web.Request) -> tuple[sa.QuarantineRow, bytes]:
    """The row the caller may see and its held bytes (raises ``MailError``)."""
    row = await _row(request, await _principal(request))
    deps: HttpDeps = request.app[DEPS_KEY]
    return row, await sa.quarantined_bytes(deps.ctx, row)


async def get_raw(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        row, data = await _held(request)
    except MailError as exc:
        return _problem(exc, loc, request)
    return web.Response(
        body=data,
        content_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="quarantine-{row.id}.eml"',
            "Cache-Control": "no-store",
        },
    )


def _clean(text: str) -> str:
    return _UNSAFE_CHARS.sub("", text)


def _addrs(addrs: list[Addr]) -> list[dict[str, str]]:
    return [{"name": _clean(a.name), "email": _clean(a.email)} for a in addrs]


def preview_of(raw: bytes) -> dict[str, Any]:
    """The preview JSON of held bytes (CPU work: call it off the event loop)."""
    msg = parse_message(raw)
    text = _clean(msg.text_body)
    return {
        "from": _addrs(msg.from_),
        "to": _addrs(msg.to),
        "cc": _addrs(msg.cc),
        "replyTo": _addrs(msg.reply_to),
        "subject": _clean(msg.subject),
        "date": msg.date.isoformat() if msg.date else None,
        "text": text[:PREVIEW_CHARS],
        "truncated": len(text) > PREVIEW_CHARS,
        "hasHtml": msg.html_body is not None,
        "attachments": [
            {"name": _clean(a.filename or ""), "type": a.content_type, "size": a.size}
            for a in msg.attachments
            if not a.inline
        ],
    }


async def get_preview(request: web.Request) -> web.Response:
    loc = locale_of(request)
    try:
        row, data = await _held(request)
    except MailError as exc:
        return _problem(exc, loc, request)
    body = await asyncio.to_thread(preview_of, data)
    body["id"] = row.id
    resp = web.json_response(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


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
        done = await fn(
            deps.ctx,
            row.id,
            actor_id=acct.id,
            models=models if isinstance(models, sa.SpamModels) else None,
        )
        body = await _one(request, acct, done)
    except MailError as exc:
        return _problem(exc, loc, request)
    return web.json_response(body)


async def release(request: web.Request) -> web.Response:
    return await _decide(request, release=True)


async def delete(request: web.Request) -> web.Response:
    return await _decide(request, release=False)


def register(app: web.Application, deps: HttpDeps) -> None:
    http_auth(app)
    app.router.add_get(PREFIX, list_items)
    app.router.add_get(PREFIX + "/{qid:\\d+}", get_item)
    app.router.add_get(PREFIX + "/{qid:\\d+}/raw", get_raw)
    app.router.add_get(PREFIX + "/{qid:\\d+}/preview", get_preview)
    app.router.add_post(PREFIX + "/{qid:\\d+}/release", release)
    app.router.add_post(PREFIX + "/{qid:\\d+}/delete", delete)
