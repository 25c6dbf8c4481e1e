"""Tenants (companies): list, create, quotas and the feature menu, password policy."""

from __future__ import annotations

from typing import Any

from rongmail.actions import admin as act
from rongmail.core.models import Tenant
from rongmail.errors import NotFound
from rongmail.protocols.http.admin import views
from rongmail.protocols.http.admin.core import (
    AdminRequest,
    Endpoint,
    opt_int,
    req_str,
)
from rongmail.services.admin.roles import Perm, Role, Target


async def _tenant(r: AdminRequest, perm: Perm) -> Tenant:
    try:
        tid = int(r.match("tenant_id"))
    except ValueError:
        raise NotFound(what="tenant") from None
    r.authorize(perm, Target(tid))
    tn = await r.reads.tenant(tid)
    if tn is None:
        raise NotFound(what="tenant")
    return tn


async def _tenant_id(r: AdminRequest, perm: Perm) -> int:
    return (await _tenant(r, perm)).id


async def list_tenants(r: AdminRequest) -> Any:
    p = r.principal
    tenants = await r.reads.tenants()
    if p.role is not Role.SUPER_ADMIN:
        tenants = [tn for tn in tenants if tn.id == p.tenant_id]
    return {"tenants": [views.tenant(tn, await r.reads.tenant_usage(tn.id)) for tn in tenants],
            "featureMenu": views.features_menu(r.locale)}


async def create_tenant(r: AdminRequest) -> Any:
    b = await r.body()
    tn = await act.do_create_tenant(
        r.deps.ctx, r.actor, req_str(b, "name", max_len=100),
        display_name=req_str(b, "displayName", max_len=200, default=""),
        quota_bytes=opt_int(b, "quotaBytes") or 0, max_accounts=opt_int(b, "maxAccounts") or 0,
        features=b.get("features") or {})
    return views.tenant(tn)


async def get_tenant(r: AdminRequest) -> Any:
    tn = await _tenant(r, Perm.TENANT_READ)
    return {**views.tenant(tn, await r.reads.tenant_usage(tn.id)),
            "featureMenu": views.features_menu(r.locale)}


async def patch_tenant(r: AdminRequest) -> Any:
    tid = await _tenant_id(r, Perm.TENANT_LIMITS)
    b = await r.body()
    dn = b.get("displayName")
    tn = await act.do_update_tenant(
        r.deps.ctx, r.actor, tid,
        display_name=req_str(b, "displayName", max_len=200) if dn is not None else None,
        quota_bytes=opt_int(b, "quotaBytes"), max_accounts=opt_int(b, "maxAccounts"),
        features=b.get("features"))
    return views.tenant(tn, await r.reads.tenant_usage(tid))


async def get_policy(r: AdminRequest) -> Any:
    tid = await _tenant_id(r, Perm.POLICY_READ)
    return views.policy(await r.reads.policy(tid) or act.DEFAULT_POLICY)


async def put_policy(r: AdminRequest) -> Any:
    tid = await _tenant_id(r, Perm.POLICY_WRITE)
    b = await r.body()
    p = await act.do_set_password_policy(
        r.deps.ctx, r.actor, tid, min_length=opt_int(b, "minLength") or 8,
        min_classes=opt_int(b, "minClasses") or 1, max_age_days=opt_int(b, "maxAgeDays") or 0,
        history=opt_int(b, "history") or 0)
    return views.policy(p)


_TENANT_BODY = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string"}, "displayName": {"type": "string"},
    "quotaBytes": {"type": "integer", "minimum": 0},
    "maxAccounts": {"type": "integer", "minimum": 0},
    "features": {"type": "object", "additionalProperties": {"type": "boolean"}}}}
_POLICY_BODY = {"type": "object", "properties": {
    "minLength": {"type": "integer", "minimum": 8, "maximum": 128},
    "minClasses": {"type": "integer", "minimum": 1, "maximum": 4},
    "maxAgeDays": {"type": "integer", "minimum": 0}, "history": {"type": "integer"}}}

ENDPOINTS = [
    Endpoint("GET", "/tenants", Perm.TENANT_READ, list_tenants,
             "List tenants (a tenant's own admins see only their tenant)", "tenants"),
    Endpoint("POST", "/tenants", Perm.TENANT_CREATE, create_tenant, "Create a tenant",
             "tenants", _TENANT_BODY, status=201),
    Endpoint("GET", "/tenants/{tenant_id}", Perm.TENANT_READ, get_tenant,
             "A tenant with usage and its feature menu", "tenants"),
    Endpoint("PATCH", "/tenants/{tenant_id}", Perm.TENANT_LIMITS, patch_tenant,
             "Change quotas, the account limit or feature switches", "tenants",
             {**_TENANT_BODY, "required": []}),
    Endpoint("GET", "/tenants/{tenant_id}/password-policy", Perm.POLICY_READ, get_policy,
             "The tenant's password policy", "tenants"),
    Endpoint("PUT", "/tenants/{tenant_id}/password-policy", Perm.POLICY_WRITE, put_policy,
             "Set the tenant's password policy", "tenants", _POLICY_BODY),
]
