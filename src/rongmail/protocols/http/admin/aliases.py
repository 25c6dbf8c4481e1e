"""Aliases, groups and distribution lists, and the sensitive-group marks (finance, HR)."""

from __future__ import annotations

from typing import Any

from rongmail.actions import admin as act
from rongmail.errors import ValidationError
from rongmail.protocols.http.admin import views
from rongmail.protocols.http.admin.core import AdminRequest, Endpoint, opt_bool, req_str
from rongmail.services.admin.roles import Perm, Role


async def list_aliases(r: AdminRequest) -> Any:
    dom_name = r.http.query.get("domain")
    doms = [await r.domain(dom_name, Perm.ALIAS_READ)] if dom_name else \
        await r.visible_domains(Perm.ALIAS_READ)
    p = r.principal
    sensitive = {g.alias_id for g in await r.reads.sensitive_groups(
        None if p.role is Role.SUPER_ADMIN else p.tenant_id)}
    out = []
    for dm in doms:
        out += [views.alias(a, sensitive=a.id in sensitive)
                for a in await r.reads.aliases(dm.id)]
    return {"aliases": out}


async def create_alias(r: AdminRequest) -> Any:
    b = await r.body()
    address = req_str(b, "address")
    await r.domain(address.rpartition("@")[2], Perm.ALIAS_WRITE)
    members = b.get("members")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise ValidationError(what="members")
    kind = req_str(b, "kind", max_len=10, default="alias")
    a = await act.do_create_group(r.deps.ctx, r.actor, address, members, kind=kind,
                                  display_name=req_str(b, "displayName", max_len=200,
                                                       default=""))
    return views.alias(a)


async def delete_alias(r: AdminRequest) -> Any:
    a = await r.alias(r.match("address"), Perm.ALIAS_WRITE)
    await act.do_admin_delete_alias(r.deps.ctx, r.actor, a)
    return {}


async def patch_members(r: AdminRequest) -> Any:
    a = await r.alias(r.match("address"), Perm.ALIAS_WRITE)
    b = await r.body()
    add, remove = b.get("add") or [], b.get("remove") or []
    if not all(isinstance(x, list) and all(isinstance(m, str) for m in x) for x in (add, remove)):
        raise ValidationError(what="members")
    await act.do_set_group_members(r.deps.ctx, r.actor, a, add=add, remove=remove)
    fresh = await r.reads.alias(a.address)
    return views.alias(fresh or a)


async def set_sensitive(r: AdminRequest) -> Any:
    a = await r.alias(r.match("address"), Perm.SENSITIVE_WRITE)
    b = await r.body()
    sensitive = opt_bool(b, "sensitive")
    if sensitive is None:
        raise ValidationError(what="sensitive")
    await act.do_set_sensitive_group(r.deps.ctx, r.actor, a, sensitive=sensitive,
                                     label=req_str(b, "label", max_len=50, default=""))
    return {"address": a.address, "sensitive": sensitive}


ENDPOINTS = [
    Endpoint("GET", "/aliases", Perm.ALIAS_READ, list_aliases,
             "Aliases, groups and distribution lists in scope", "aliases",
             query={"domain": "only this domain"}),
    Endpoint("POST", "/aliases", Perm.ALIAS_WRITE, create_alias,
             "Create an alias (kind=alias) or a group / distribution list (kind=group)",
             "aliases", {"type": "object", "required": ["address", "members"], "properties": {
                 "address": {"type": "string"}, "kind": {"enum": ["alias", "group"]},
                 "members": {"type": "array", "items": {"type": "string"}},
                 "displayName": {"type": "string"}}}, status=201),
    Endpoint("PATCH", "/aliases/{address}", Perm.ALIAS_WRITE, patch_members,
             "Add or remove members of an alias, group or distribution list", "aliases",
             {"type": "object", "properties": {
                 "add": {"type": "array", "items": {"type": "string"}},
                 "remove": {"type": "array", "items": {"type": "string"}}}}),
    Endpoint("DELETE", "/aliases/{address}", Perm.ALIAS_WRITE, delete_alias,
             "Delete an alias or group", "aliases"),
    Endpoint("PUT", "/aliases/{address}/sensitive", Perm.SENSITIVE_WRITE, set_sensitive,
             "Mark a group sensitive: its members' mailboxes cannot be delegated, searched "
             "or reset by ordinary admins", "aliases", {
                 "type": "object", "required": ["sensitive"], "properties": {
                     "sensitive": {"type": "boolean"}, "label": {"type": "string"}}}),
]
