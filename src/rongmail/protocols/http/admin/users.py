"""Users and shared mailboxes: list, create, change, delete, reset passwords, roles, mailbox
delegation, the compliance mail search, and bulk import from CSV / .xlsx with a per-row
report. Sensitive group members are guarded by ``roles.GUARDED`` (resolved in
``AdminRequest.account``)."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader

from rongmail.actions import admin as act
from rongmail.core.models import Account, Domain
from rongmail.errors import NotFound, PermissionDenied, TooLarge, ValidationError
from rongmail.i18n import t
from rongmail.protocols.http.admin import views
from rongmail.protocols.http.admin.core import (
    AdminRequest,
    Endpoint,
    opt_bool,
    opt_int,
    req_str,
)
from rongmail.services.admin.bulk_import import MAX_BYTES, parse_upload
from rongmail.services.admin.roles import Perm, Role, Target, allowed, may_assign


async def list_users(r: AdminRequest) -> Any:
    dom_name = r.http.query.get("domain")
    if dom_name:
        doms = [await r.domain(dom_name, Perm.USER_READ)]
    else:
        doms = await r.visible_domains(Perm.USER_READ)
    out = []
    for dm in doms:
        out += [views.account(a) for a in await r.reads.accounts(domain_id=dm.id)]
    return {"users": out}


async def create_user(r: AdminRequest) -> Any:
    b = await r.body()
    address = req_str(b, "address")
    await r.domain(address.rpartition("@")[2], Perm.USER_WRITE)
    kind = req_str(b, "kind", max_len=10, default="user")
    a = await act.do_create_user(r.deps.ctx, r.actor, address,
                                 req_str(b, "password", max_len=256),
                                 display_name=req_str(b, "displayName", max_len=200, default=""),
                                 quota_bytes=opt_int(b, "quotaBytes") or 0, kind=kind)
    return views.account(a)


async def get_user(r: AdminRequest) -> Any:
    a = await r.account(r.match("address"), Perm.USER_READ)
    return views.account(a, sensitive=await r.reads.is_sensitive(a.address))


def _not_stronger(r: AdminRequest, a: Account) -> None:
    """An admin may act on another admin's account only if it could grant that role: a
    helpdesk or domain admin never resets, disables or deletes a tenant admin (no takeover)."""
    role = Role.parse(a.role)
    if role is not Role.USER and r.principal.role is not Role.SUPER_ADMIN \
            and not may_assign(r.principal, role):
        raise PermissionDenied("admin.forbidden", detail=f"act on {role}")


async def patch_user(r: AdminRequest) -> Any:
    a = await r.account(r.match("address"), Perm.USER_WRITE)
    _not_stronger(r, a)
    b = await r.body()
    disabled = opt_bool(b, "disabled")
    quota = opt_int(b, "quotaBytes")
    if disabled is not None:
        await act.do_admin_disable_account(r.deps.ctx, r.actor, a, disabled=disabled)
    if quota is not None:
        await act.do_set_account_quota(r.deps.ctx, r.actor, a, quota)
    fresh = await r.reads.account(a.id)
    if fresh is None:
        raise NotFound("user.unknown", email=a.address)
    return views.account(fresh)


async def delete_user(r: AdminRequest) -> Any:
    a = await r.account(r.match("address"), Perm.USER_WRITE)
    _not_stronger(r, a)
    if a.id == r.principal.account_id:
        raise ValidationError("admin.self")
    await act.do_admin_delete_account(r.deps.ctx, r.actor, a)
    return {}


async def reset_password(r: AdminRequest) -> Any:
    a = await r.account(r.match("address"), Perm.USER_PASSWORD)
    _not_stronger(r, a)
    b = await r.body()
    await act.do_reset_password(r.deps.ctx, r.actor, a, req_str(b, "password", max_len=256))
    return {}


async def set_role(r: AdminRequest) -> Any:
    a = await r.account(r.match("address"), Perm.ROLE_WRITE)
    b = await r.body()
    try:
        role = Role(req_str(b, "role", max_len=20))
    except ValueError:
        raise ValidationError(what="role") from None
    if not may_assign(r.principal, role) or (
            r.principal.role is not Role.SUPER_ADMIN
            and not may_assign(r.principal, Role.parse(a.role))):
        raise PermissionDenied("admin.forbidden", detail=f"assign {role}")
    names = b.get("domains") or []
    if not isinstance(names, list):
        raise ValidationError(what="domains")
    ids = []
    for n in names:
        dm = await r.domain(str(n), Perm.USER_WRITE)
        if dm.tenant_id != a.tenant_id:
            raise ValidationError(what="domains")
        ids.append(dm.id)
    await act.do_set_admin_role(r.deps.ctx, r.actor, a, role, ids)
    return {"address": a.address, "role": str(role)}


async def delegate(r: AdminRequest) -> Any:
    owner = await r.account(r.match("address"), Perm.MAIL_DELEGATE)
    b = await r.body()
    grantee = await r.account(req_str(b, "grantee"), Perm.USER_READ)
    await act.do_delegate_mailbox(r.deps.ctx, r.actor, owner, grantee,
                                  req_str(b, "rights", max_len=11, default="lrswipkxtea"))
    return {}


async def search_mail(r: AdminRequest) -> Any:
    """Compliance search (eDiscovery) in one mailbox: envelope fields of matching messages."""
    a = await r.account(r.match("address"), Perm.MAIL_SEARCH)
    b = await r.body()
    query = req_str(b, "query", max_len=200)
    ids = await r.deps.reader.search_text(a.id, query)
    if ids is None:
        raise ValidationError(what="query")
    msgs = await r.deps.reader.messages(a.id, ids[-100:])
    await act.do_record_audit(r.deps.ctx, r.actor, a.tenant_id, "mail.search", a.address,
                              {"query": query, "hits": len(ids)})
    return {"total": len(ids), "messages": [
        {"id": m.id, "subject": m.subject, "from": [x[1] for x in m.from_],
         "receivedAt": m.received_at, "size": m.size} for m in msgs]}


async def import_users(r: AdminRequest) -> Any:
    """multipart/form-data with a ``file`` part (.csv or .xlsx); ``?dryRun=1`` validates only."""
    if not r.http.content_type.startswith("multipart/"):
        raise ValidationError(what="file")
    reader = await r.http.multipart()
    filename, data = "", b""
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, BodyPartReader) and part.name == "file":
            filename = part.filename or ""
            chunks = []
            size = 0
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise TooLarge(limit=MAX_BYTES)
                chunks.append(chunk)
            data = b"".join(chunks)
    if not data:
        raise ValidationError(what="file")
    rows = parse_upload(filename, data)
    p = r.principal

    def may_create(dm: Domain) -> bool:
        return allowed(p, Perm.USER_WRITE, Target(dm.tenant_id, dm.id))

    dry = r.http.query.get("dryRun") in ("1", "true")
    results = await act.do_import_users(r.deps.ctx, r.actor, rows, may_create=may_create,
                                        dry_run=dry)
    return {"dryRun": dry,
            "created": sum(1 for x in results if x.status == "created"),
            "failed": sum(1 for x in results if x.status == "error"),
            "rows": [{"line": x.line, "address": x.address, "status": x.status,
                      "problem": t(x.problem, r.locale, **x.params) if x.problem else "",
                      "generatedPassword": x.generated_password or None} for x in results]}


_USER_BODY = {"type": "object", "required": ["address", "password"], "properties": {
    "address": {"type": "string", "format": "email"}, "password": {"type": "string"},
    "displayName": {"type": "string"}, "quotaBytes": {"type": "integer"},
    "kind": {"enum": ["user", "shared"]}}}

ENDPOINTS = [
    Endpoint("GET", "/users", Perm.USER_READ, list_users, "Users in scope", "users",
             query={"domain": "only this domain"}),
    Endpoint("POST", "/users", Perm.USER_WRITE, create_user,
             "Create a user or shared mailbox (the tenant password policy applies)", "users",
             _USER_BODY, status=201),
    Endpoint("POST", "/users/import", Perm.USER_IMPORT, import_users,
             "Bulk import from CSV or .xlsx (multipart field 'file'); per-row report",
             "users", {"type": "object", "properties": {
                 "file": {"type": "string", "format": "binary"}}},
             query={"dryRun": "1 = validate only"}),
    Endpoint("GET", "/users/{address}", Perm.USER_READ, get_user, "One user", "users"),
    Endpoint("PATCH", "/users/{address}", Perm.USER_WRITE, patch_user,
             "Disable / enable, change quota", "users", {"type": "object", "properties": {
                 "disabled": {"type": "boolean"}, "quotaBytes": {"type": "integer"}}}),
    Endpoint("DELETE", "/users/{address}", Perm.USER_WRITE, delete_user,
             "Delete a user and its mail", "users"),
    Endpoint("POST", "/users/{address}/password", Perm.USER_PASSWORD, reset_password,
             "Reset the password (helpdesk)", "users", {"type": "object",
                                                       "required": ["password"],
                                                       "properties": {
                                                           "password": {"type": "string"}}}),
    Endpoint("PUT", "/users/{address}/role", Perm.ROLE_WRITE, set_role,
             "Set the admin role (and a domain admin's domains)", "users",
             {"type": "object", "required": ["role"], "properties": {
                 "role": {"enum": [str(x) for x in Role]},
                 "domains": {"type": "array", "items": {"type": "string"}}}}),
    Endpoint("POST", "/users/{address}/delegations", Perm.MAIL_DELEGATE, delegate,
             "Delegate the mailbox to another user (not for sensitive group members)",
             "mail", {"type": "object", "required": ["grantee"], "properties": {
                 "grantee": {"type": "string"}, "rights": {"type": "string"}}}),
    Endpoint("POST", "/users/{address}/search", Perm.MAIL_SEARCH, search_mail,
             "Compliance search in a mailbox (not for sensitive group members)", "mail",
             {"type": "object", "required": ["query"], "properties": {
                 "query": {"type": "string"}}}),
]
