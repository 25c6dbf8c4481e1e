"""The admin REST API under ``/api/admin`` and its OpenAPI 3.1 document
(``/api/admin/openapi.json``).

One route table (:data:`ENDPOINTS`, gathered from the feature modules) drives three things: the
aiohttp routes, the permission every route demands (``core.wrap``) and the OpenAPI document, so
the published contract, the enforcement and the role matrix test cannot drift apart.

Modules: ``core`` (pipeline, principal, problem details), ``tenants``, ``domains`` (with DNS),
``users`` (with bulk import), ``aliases``, ``ops`` (queue, audit), ``openapi``. The document
also publishes the security console's session-only routes (``protocols.http.security.CONSOLE``,
mounted by that module).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rongmail.protocols.http import security
from rongmail.protocols.http.admin import aliases, domains, ops, tenants, users
from rongmail.protocols.http.admin.core import PREFIX, READS_KEY, AdminRequest, Endpoint, wrap
from rongmail.protocols.http.admin.openapi import openapi_document
from rongmail.protocols.http.login import http_auth
from rongmail.protocols.http.server import HttpDeps
from rongmail.services.admin.reads import AdminReader


async def me(r: AdminRequest) -> Any:
    p = r.principal
    return {"accountId": p.account_id, "address": p.address, "role": str(p.role),
            "tenantId": p.tenant_id, "domainIds": sorted(p.domain_ids),
            "permissions": sorted(str(x) for x in p.perms())}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/me", None, me, "The signed-in admin: role and permissions", "session"),
    *tenants.ENDPOINTS, *domains.ENDPOINTS, *users.ENDPOINTS, *aliases.ENDPOINTS,
    *ops.ENDPOINTS,
]


def register(app: web.Application, deps: HttpDeps) -> None:
    http_auth(app)
    app[READS_KEY] = AdminReader(deps.ctx.meta, deps.ctx.keys)
    # the security console mounts its own routes (protocols.http.security.register); they are
    # published here so one document describes every route under /api/admin
    doc = openapi_document(ENDPOINTS, session_only=security.CONSOLE)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(doc, headers={"Cache-Control": "no-cache"})

    app.router.add_get(f"{PREFIX}/openapi.json", openapi)
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, PREFIX + ep.path, wrap(ep))
