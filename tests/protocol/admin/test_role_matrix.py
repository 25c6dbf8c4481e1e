"""The role × endpoint matrix, over real HTTP.

The endpoints come from what the server *publishes*: every operation of the OpenAPI document
served at ``/api/admin/openapi.json``, including the security console of
``protocols/http/security.py``, which the document marks web-session only
(``security: [{session: []}]``). Every route the application mounts under ``/api/admin`` must be
in the document. Each operation must have an entry in :data:`EXPECTED` (the roles allowed,
written out by hand from the role definitions of issues 7 and 8, *not* derived from
``services.admin.roles``) and a *probe*: a request that a permitted role gets past
authorization with (a success or a validation / not-found error, never a mutation that would
disturb the other probes), while every other role gets 403. Session-only operations are probed
with a signed-in browser session per role, and a bearer token must be refused there for every
role. A new endpoint without an entry, an entry without an endpoint, or a published
``x-rongmail-roles`` list that disagrees with the table fails here.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from admin_helpers import PASSWORD, ROLES, AdminEnv

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

SUPER = "super_admin"
TENANT = "tenant_admin"
DOMAIN = "domain_admin"
HELP = "helpdesk"
AUDIT = "auditor"
ADMINS = frozenset({SUPER, TENANT, DOMAIN, HELP, AUDIT})
DIRECTORY = frozenset({SUPER, TENANT, DOMAIN})
NOBODY: frozenset[str] = frozenset()

#: (method, published path) -> (roles allowed, probe path under /api/admin, probe body)
EXPECTED: dict[tuple[str, str], tuple[frozenset[str], str, object]] = {
    ("GET", "/api/admin/me"): (ADMINS, "/me", None),
    ("GET", "/api/admin/tenants"): (ADMINS, "/tenants", None),
    ("POST", "/api/admin/tenants"): (frozenset({SUPER}), "/tenants", {"name": ""}),
    ("GET", "/api/admin/tenants/{tenant_id}"): (ADMINS, "/tenants/{acme}", None),
    ("PATCH", "/api/admin/tenants/{tenant_id}"): (
        frozenset({SUPER}),
        "/tenants/{acme}",
        {"quotaBytes": -1},
    ),
    ("GET", "/api/admin/tenants/{tenant_id}/password-policy"): (
        ADMINS,
        "/tenants/{acme}/password-policy",
        None,
    ),
    ("PUT", "/api/admin/tenants/{tenant_id}/password-policy"): (
        frozenset({SUPER, TENANT}),
        "/tenants/{acme}/password-policy",
        {"minLength": 3},
    ),
    ("GET", "/api/admin/domains"): (ADMINS, "/domains", None),
    ("POST", "/api/admin/domains"): (frozenset({SUPER, TENANT}), "/domains", {"name": "acme.test"}),
    ("DELETE", "/api/admin/domains/{name}"): (
        frozenset({SUPER, TENANT}),
        "/domains/acme.test",
        None,
    ),
    ("GET", "/api/admin/domains/{name}/dns/settings"): (
        DIRECTORY,
        "/domains/acme.test/dns/settings",
        None,
    ),
    ("PUT", "/api/admin/domains/{name}/dns/settings"): (
        DIRECTORY,
        "/domains/acme.test/dns/settings",
        {"dmarc_stage": "bogus"},
    ),
    ("GET", "/api/admin/domains/{name}/dns/plan"): (DIRECTORY, "/domains/acme.test/dns/plan", None),
    ("GET", "/api/admin/domains/{name}/dns/zone"): (DIRECTORY, "/domains/acme.test/dns/zone", None),
    ("POST", "/api/admin/domains/{name}/dns/check"): (
        DIRECTORY,
        "/domains/nosuch.test/dns/check",
        {},
    ),
    ("POST", "/api/admin/domains/{name}/dkim"): (DIRECTORY, "/domains/nosuch.test/dkim", {}),
    ("GET", "/api/admin/domains/{name}/dns/provider"): (
        DIRECTORY,
        "/domains/acme.test/dns/provider",
        None,
    ),
    ("PUT", "/api/admin/domains/{name}/dns/provider"): (
        DIRECTORY,
        "/domains/acme.test/dns/provider",
        {"kind": "bogus", "credentials": {}},
    ),
    ("POST", "/api/admin/domains/{name}/dns/push"): (
        DIRECTORY,
        "/domains/nosuch.test/dns/push",
        {},
    ),
    ("GET", "/api/admin/users"): (DIRECTORY | {HELP}, "/users", None),
    ("POST", "/api/admin/users"): (
        DIRECTORY,
        "/users",
        {"address": "new@acme.test", "password": "short"},
    ),
    ("POST", "/api/admin/users/import"): (DIRECTORY, "/users/import", {}),
    ("GET", "/api/admin/users/{address}"): (DIRECTORY | {HELP}, "/users/victim@acme.test", None),
    ("PATCH", "/api/admin/users/{address}"): (
        DIRECTORY,
        "/users/victim@acme.test",
        {"quotaBytes": -1},
    ),
    ("DELETE", "/api/admin/users/{address}"): (DIRECTORY, "/users/nosuch@acme.test", None),
    ("POST", "/api/admin/users/{address}/password"): (
        DIRECTORY | {HELP},
        "/users/victim@acme.test/password",
        {"password": "short"},
    ),
    ("PUT", "/api/admin/users/{address}/role"): (
        frozenset({SUPER, TENANT}),
        "/users/victim@acme.test/role",
        {"role": "bogus"},
    ),
    ("POST", "/api/admin/users/{address}/delegations"): (
        DIRECTORY,
        "/users/victim@acme.test/delegations",
        {"grantee": "nosuch@acme.test"},
    ),
    ("POST", "/api/admin/users/{address}/search"): (
        DIRECTORY,
        "/users/victim@acme.test/search",
        {"query": ""},
    ),
    ("GET", "/api/admin/aliases"): (DIRECTORY | {HELP}, "/aliases", None),
    ("POST", "/api/admin/aliases"): (
        DIRECTORY,
        "/aliases",
        {"address": "x@acme.test", "members": "no"},
    ),
    ("PATCH", "/api/admin/aliases/{address}"): (
        DIRECTORY,
        "/aliases/finance@acme.test",
        {"add": "no"},
    ),
    ("DELETE", "/api/admin/aliases/{address}"): (DIRECTORY, "/aliases/nosuch@acme.test", None),
    ("PUT", "/api/admin/aliases/{address}/sensitive"): (
        frozenset({SUPER}),
        "/aliases/finance@acme.test/sensitive",
        {"sensitive": "x"},
    ),
    ("GET", "/api/admin/queue"): (frozenset({SUPER, TENANT, AUDIT}), "/queue", None),
    ("POST", "/api/admin/queue/{id}/{verb}"): (
        frozenset({SUPER, TENANT}),
        "/queue/999999/retry",
        None,
    ),
    ("DELETE", "/api/admin/queue/{id}"): (frozenset({SUPER, TENANT}), "/queue/999999", None),
    ("GET", "/api/admin/audit"): (frozenset({SUPER, TENANT, AUDIT}), "/audit", None),
    # -- the security console (issue 8): published as web session only ------------------------
    ("GET", "/api/admin/security/audit"): (
        frozenset({SUPER, TENANT, AUDIT}),
        "/security/audit",
        None,
    ),
    ("GET", "/api/admin/security/audit/export"): (
        frozenset({SUPER, TENANT, AUDIT}),
        "/security/audit/export?limit=1",
        None,
    ),
    ("GET", "/api/admin/security/networks"): (ADMINS, "/security/networks", None),
    ("PUT", "/api/admin/security/networks"): (
        frozenset({SUPER, TENANT}),
        "/security/networks",
        {"role": "bogus", "cidrs": []},
    ),
    ("GET", "/api/admin/security/lockouts"): (DIRECTORY | {HELP}, "/security/lockouts", None),
    ("GET", "/api/admin/security/accounts/{address}"): (
        DIRECTORY | {HELP},
        "/security/accounts/victim@acme.test",
        None,
    ),
    ("POST", "/api/admin/security/accounts/{address}/sessions/{id}/revoke"): (
        DIRECTORY,
        "/security/accounts/victim@acme.test/sessions/999999/revoke",
        {},
    ),
    # a real freeze, undone by the next probe (the target has no sessions to lose)
    ("POST", "/api/admin/security/accounts/{address}/freeze"): (
        DIRECTORY,
        "/security/accounts/victim@acme.test/freeze",
        {"reason": "probe"},
    ),
    ("POST", "/api/admin/security/accounts/{address}/unfreeze"): (
        DIRECTORY,
        "/security/accounts/victim@acme.test/unfreeze",
        {},
    ),
    # clears counters the victim does not have: harmless, audited
    ("POST", "/api/admin/security/accounts/{address}/unlock"): (
        DIRECTORY,
        "/security/accounts/victim@acme.test/unlock",
        {},
    ),
}


def _path(admin: AdminEnv, path: str) -> str:
    return path.replace("{acme}", str(admin.ids["acme"]))


async def _document(admin: AdminEnv) -> dict[tuple[str, str], dict[str, Any]]:
    """The operations of the served OpenAPI document."""
    status, doc = await admin.call(SUPER, "GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    return {
        (method.upper(), path): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }


async def _published(admin: AdminEnv) -> dict[tuple[str, str], list[str]]:
    """The operations of the served OpenAPI document with their ``x-rongmail-roles``."""
    return {k: op["x-rongmail-roles"] for k, op in (await _document(admin)).items()}


async def _session_only(admin: AdminEnv) -> set[tuple[str, str]]:
    """The operations the document restricts to the web session cookie."""
    return {k for k, op in (await _document(admin)).items() if op.get("security") == SESSION}


SESSION = [{"session": []}]


@SQLITE
async def test_every_published_endpoint_is_in_the_matrix(admin: AdminEnv) -> None:
    published = await _published(admin)
    assert set(published) - set(EXPECTED) == set(), "endpoints without a matrix entry"
    assert set(EXPECTED) - set(published) == set(), "matrix entries for no endpoint"
    # what the document tells API clients agrees with the hand-written table
    wrong = {
        k: (sorted(v), sorted(EXPECTED[k][0]))
        for k, v in published.items()
        if set(v) != EXPECTED[k][0]
    }
    assert wrong == {}


@SQLITE
async def test_every_admin_route_is_published(admin: AdminEnv) -> None:
    """No route under /api/admin escapes the document, hence the matrix (a handler mounted
    outside the route tables would otherwise be invisible to the OpenAPI check), and the
    document lists no route that is not mounted."""
    from rongmail.protocols.http import admin as admin_api
    from rongmail.protocols.http import login, security
    from rongmail.protocols.http.server import HttpDeps, build_http_app

    deps = HttpDeps(settings=admin.ctx.settings, ctx=admin.ctx, reader=admin.reader, auth=None)
    app = build_http_app(deps, [login.register, admin_api.register, security.register])
    mounted = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/admin") and route.method != "HEAD":
            mounted.add((route.method, path.replace("{verb:retry|hold|release}", "{verb}")))
    mounted.discard(("GET", "/api/admin/openapi.json"))  # the document itself, public
    published = set(await _published(admin))
    assert mounted - published == set(), "mounted but not published"
    assert published - mounted == set(), "published but not mounted"
    # the console is published, and as session only
    console = {k for k in mounted if k[1].startswith("/api/admin/security/")}
    assert console and console == await _session_only(admin)


@SQLITE
@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(admin: AdminEnv, role: str) -> None:
    wrong: list[str] = []
    session_only = await _session_only(admin)
    for key, (allowed, path, body) in EXPECTED.items():
        if key in session_only:
            continue  # test_security_console_matrix
        status, reply = await admin.call(role, key[0], _path(admin, path), body)
        if status in (401, 500) or (status == 403) == (role in allowed):
            wrong.append(f"{key}: {status} {reply}")
    assert wrong == [], f"{role}: " + "; ".join(wrong)


async def _session(admin: AdminEnv, role: str) -> tuple[aiohttp.ClientSession, str]:
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    r = await s.post(
        admin.base + "/api/login", json={"username": admin.addr(role), "password": PASSWORD}
    )
    assert r.status == 200, (role, await r.text())
    return s, (await r.json())["csrfToken"]


@SQLITE
@pytest.mark.parametrize("role", ROLES)
async def test_security_console_matrix(admin: AdminEnv, role: str) -> None:
    session_only = await _session_only(admin)
    assert session_only, "the document publishes no session-only operation"
    s, csrf = await _session(admin, role)
    wrong: list[str] = []
    try:
        for method, published in sorted(session_only):
            allowed, path, body = EXPECTED[(method, published)]
            async with s.request(
                method, admin.base + "/api/admin" + path, json=body, headers={"X-CSRF-Token": csrf}
            ) as r:
                reply: Any = await r.text()
                if r.status in (401, 500) or (r.status == 403) == (role in allowed):
                    wrong.append(f"{method} {path}: {r.status} {reply[:200]}")
            # a bearer token never reaches the console, whatever the role
            status, _ = await admin.call(role, method, path, body)
            if status not in (401, 403):
                wrong.append(f"bearer {method} {path}: {status}")
    finally:
        await s.close()
    assert wrong == [], f"{role}: " + "; ".join(wrong)


@SQLITE
async def test_security_console_respects_a_domain_admins_scope(admin: AdminEnv) -> None:
    """A domain admin scoped to acme2.test (its own mailbox lives in acme.test) manages the
    accounts of acme2.test in the security console, exactly as in the admin API, and not
    those of its own mailbox's domain."""
    from rongmail.actions import accounts as acc
    from rongmail.actions import admin as act
    from rongmail.services.admin.roles import Role
    from rongmail.store.sql import directory as d

    acme2 = await admin.ctx.meta.read(d.get_domain("acme2.test"))
    scoped = await acc.do_create_account(admin.ctx, "scoped@acme.test", PASSWORD)
    await act.do_set_admin_role(admin.ctx, act.SYSTEM, scoped, Role.DOMAIN_ADMIN, [acme2.id])
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        r = await s.post(
            admin.base + "/api/login", json={"username": "scoped@acme.test", "password": PASSWORD}
        )
        csrf = (await r.json())["csrfToken"]

        async def status(method: str, path: str) -> int:
            async with s.request(
                method, admin.base + "/api/admin" + path, json={}, headers={"X-CSRF-Token": csrf}
            ) as r:
                return r.status

        assert await status("GET", "/users/far@acme2.test") == 200  # the admin API agrees
        assert await status("GET", "/users/victim@acme.test") == 403
        assert await status("GET", "/security/accounts/far@acme2.test") == 200
        assert await status("POST", "/security/accounts/far@acme2.test/unfreeze") == 200
        assert await status("GET", "/security/accounts/victim@acme.test") == 403
        assert await status("POST", "/security/accounts/victim@acme.test/freeze") == 403
    finally:
        await s.close()


@SQLITE
async def test_anonymous_is_401_everywhere(admin: AdminEnv) -> None:
    for (method, _), (_, path, body) in EXPECTED.items():
        status, _ = await admin.call(None, method, _path(admin, path), body)
        assert status == 401, (method, path)


@SQLITE
async def test_forbidden_reply_is_a_localized_problem(admin: AdminEnv) -> None:
    status, body = await admin.call(
        "helpdesk", "GET", "/audit", headers={"Accept-Language": "zh-CN"}
    )
    assert status == 403 and body["title"] == "admin.forbidden"
    assert body["detail"] and body["detail"] != "admin.forbidden"
