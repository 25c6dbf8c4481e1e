"""The role × endpoint matrix, over real HTTP.

For every endpoint of the admin API there is one *probe*: a request that a permitted role gets
past authorization with (the answer is then a success or a validation / not-found error, never
a mutation that would disturb the other probes), and every other role gets 403. The expected
matrix below is written out by hand from the role definitions in issue 7; it is not derived
from ``services.admin.roles``, so a change of the permission table that breaks the promise
fails here.
"""

from __future__ import annotations

import re

import pytest
from admin_helpers import ROLES, AdminEnv

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

# name: (method, path, body)
PROBES: dict[str, tuple[str, str, object]] = {
    "me": ("GET", "/me", None),
    "tenants.list": ("GET", "/tenants", None),
    "tenants.create": ("POST", "/tenants", {"name": ""}),
    "tenants.get": ("GET", "/tenants/{acme}", None),
    "tenants.patch": ("PATCH", "/tenants/{acme}", {"quotaBytes": -1}),
    "policy.get": ("GET", "/tenants/{acme}/password-policy", None),
    "policy.put": ("PUT", "/tenants/{acme}/password-policy", {"minLength": 3}),
    "domains.list": ("GET", "/domains", None),
    "domains.create": ("POST", "/domains", {"name": "acme.test"}),
    "domains.delete": ("DELETE", "/domains/acme.test", None),
    "dns.settings.get": ("GET", "/domains/acme.test/dns/settings", None),
    "dns.settings.put": ("PUT", "/domains/acme.test/dns/settings", {"dmarc_stage": "bogus"}),
    "dns.plan": ("GET", "/domains/acme.test/dns/plan", None),
    "dns.zone": ("GET", "/domains/acme.test/dns/zone", None),
    "dns.check": ("POST", "/domains/nosuch.test/dns/check", {}),
    "dns.dkim": ("POST", "/domains/nosuch.test/dkim", {}),
    "dns.provider.get": ("GET", "/domains/acme.test/dns/provider", None),
    "dns.provider.put": ("PUT", "/domains/acme.test/dns/provider",
                         {"kind": "bogus", "credentials": {}}),
    "dns.push": ("POST", "/domains/nosuch.test/dns/push", {}),
    "users.list": ("GET", "/users", None),
    "users.create": ("POST", "/users", {"address": "new@acme.test", "password": "short"}),
    "users.import": ("POST", "/users/import", {}),
    "users.get": ("GET", "/users/victim@acme.test", None),
    "users.patch": ("PATCH", "/users/victim@acme.test", {"quotaBytes": -1}),
    "users.delete": ("DELETE", "/users/nosuch@acme.test", None),
    "users.password": ("POST", "/users/victim@acme.test/password", {"password": "short"}),
    "users.role": ("PUT", "/users/victim@acme.test/role", {"role": "bogus"}),
    "mail.delegate": ("POST", "/users/victim@acme.test/delegations",
                      {"grantee": "nosuch@acme.test"}),
    "mail.search": ("POST", "/users/victim@acme.test/search", {"query": ""}),
    "aliases.list": ("GET", "/aliases", None),
    "aliases.create": ("POST", "/aliases", {"address": "x@acme.test", "members": "no"}),
    "aliases.members": ("PATCH", "/aliases/finance@acme.test", {"add": "no"}),
    "aliases.delete": ("DELETE", "/aliases/nosuch@acme.test", None),
    "aliases.sensitive": ("PUT", "/aliases/finance@acme.test/sensitive", {"sensitive": "x"}),
    "queue.list": ("GET", "/queue", None),
    "queue.action": ("POST", "/queue/999999/retry", None),
    "queue.delete": ("DELETE", "/queue/999999", None),
    "audit.list": ("GET", "/audit", None),
}

ALL = frozenset(PROBES)
READ_DIRECTORY = {"me", "tenants.list", "tenants.get", "policy.get", "domains.list"}
DIRECTORY = READ_DIRECTORY | {
    "dns.settings.get", "dns.settings.put", "dns.plan", "dns.zone", "dns.check", "dns.dkim",
    "dns.provider.get", "dns.provider.put", "dns.push", "users.list", "users.create",
    "users.import", "users.get", "users.patch", "users.delete", "users.password", "mail.delegate",
    "mail.search", "aliases.list", "aliases.create", "aliases.members", "aliases.delete"}

#: what each role may call (everything else must answer 403)
ALLOWED: dict[str, frozenset[str]] = {
    "super_admin": ALL,
    "tenant_admin": ALL - {"tenants.create", "tenants.patch", "aliases.sensitive"},
    "domain_admin": frozenset(DIRECTORY),
    "helpdesk": frozenset(READ_DIRECTORY | {"users.list", "users.get", "users.password",
                                            "aliases.list"}),
    "auditor": frozenset(READ_DIRECTORY | {"queue.list", "audit.list"}),
    "user": frozenset(),
}


def _path(admin: AdminEnv, path: str) -> str:
    return path.replace("{acme}", str(admin.ids["acme"]))


def test_every_endpoint_has_a_probe() -> None:
    from rongmail.protocols.http.admin import ENDPOINTS

    declared = {(e.method, e.path.split("{verb")[0]) for e in ENDPOINTS}
    probed = set()
    for method, path, _ in PROBES.values():
        for e in ENDPOINTS:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", e.path.replace(
                "{verb:retry|hold|release}", "(retry|hold|release)")) + "$"
            if e.method == method and re.match(rx, path.replace("{acme}", "1")):
                probed.add((e.method, e.path.split("{verb")[0]))
                break
    assert declared - probed == set()


@SQLITE
@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(admin: AdminEnv, role: str) -> None:
    wrong: list[str] = []
    for name, (method, path, body) in PROBES.items():
        status, reply = await admin.call(role, method, _path(admin, path), body)
        expect_allowed = name in ALLOWED[role]
        if status in (401, 500) or (status == 403) == expect_allowed:
            wrong.append(f"{name}: {status} {reply}")
    assert wrong == [], f"{role}: " + "; ".join(wrong)


@SQLITE
async def test_anonymous_is_401_everywhere(admin: AdminEnv) -> None:
    for method, path, body in PROBES.values():
        status, _ = await admin.call(None, method, _path(admin, path), body)
        assert status == 401, (method, path)


@SQLITE
async def test_forbidden_reply_is_a_localized_problem(admin: AdminEnv) -> None:
    status, body = await admin.call("helpdesk", "GET", "/audit",
                                    headers={"Accept-Language": "zh-CN"})
    assert status == 403 and body["title"] == "admin.forbidden"
    assert body["detail"] and body["detail"] != "admin.forbidden"
