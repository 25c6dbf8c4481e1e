"""Fixtures for admin API tests: a real storage stack, two tenants, an account per admin role,
a sensitive "finance" group, and the HTTP listener on a loopback port (admin API, web login
and the security console)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from admin_helpers import PASSWORD, ROLES, AdminEnv  # noqa: E402


@pytest.fixture
async def admin(stack: object) -> AsyncIterator[AdminEnv]:
    import aiohttp
    from aiohttp.test_utils import TestServer

    from rongmail.actions import accounts as acc
    from rongmail.actions import admin as act
    from rongmail.actions.auth import AuthRecorder
    from rongmail.actions.jmap import do_create_token
    from rongmail.actions.lockouts import StoreThrottle
    from rongmail.config.security import RiskSettings, SecuritySettings
    from rongmail.protocols.http import admin as admin_api
    from rongmail.protocols.http import login, security
    from rongmail.protocols.http.server import HttpDeps, build_http_app
    from rongmail.services.admin.roles import Role
    from rongmail.services.auth.authenticate import Authenticator, SecurityDeps
    from rongmail.services.auth.geoip import GeoIp

    ctx, reader = stack.ctx, stack.reader  # type: ignore[attr-defined]
    acme = await acc.do_create_tenant(ctx, "acme", display_name="Acme")
    other = await acc.do_create_tenant(ctx, "other")
    d1 = await acc.do_create_domain(ctx, acme.id, "acme.test")
    await acc.do_create_domain(ctx, acme.id, "acme2.test")
    await acc.do_create_domain(ctx, other.id, "other.test")
    ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    for role in ROLES:
        a = await acc.do_create_account(ctx, f"{role.replace('_', '')}@acme.test", PASSWORD)
        await act.do_set_admin_role(ctx, act.SYSTEM, a, Role(role),
                                    [d1.id] if role == "domain_admin" else [])
        ids[role] = a.id
        tokens[role], _ = await do_create_token(ctx, a.id, kind="bearer", name="tests")
    for addr in ("victim@acme.test", "fin@acme.test", "far@acme2.test", "bob@other.test"):
        a = await acc.do_create_account(ctx, addr, PASSWORD)
        ids[addr] = a.id
    tadmin2 = await acc.do_create_account(ctx, "boss@other.test", PASSWORD)
    await act.do_set_admin_role(ctx, act.SYSTEM, tadmin2, Role.TENANT_ADMIN)
    tokens["other_admin"], _ = await do_create_token(ctx, tadmin2.id, kind="bearer", name="t")
    fin = await acc.do_create_alias(ctx, "finance@acme.test", ["fin@acme.test"], kind="group")
    await act.do_set_sensitive_group(ctx, act.SYSTEM, fin, sensitive=True, label="finance")
    ids["acme"], ids["other"] = acme.id, other.id

    # the identity layer as app.py wires it (audit key, recorder, store-backed throttling), so
    # the security console's writes work; risk scoring cannot step up these first logins
    sec = SecurityDeps(SecuritySettings(risk=RiskSettings(quiet_hours=(0, 0))),
                       AuthRecorder(ctx, secrets.token_bytes(32)), GeoIp(None))
    auth = Authenticator(reader, security=sec, throttle=StoreThrottle(ctx))
    deps = HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader, auth=auth)
    app = build_http_app(deps, [login.register, admin_api.register, security.register])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        yield AdminEnv(ctx, reader, str(server.make_url("")).rstrip("/"), session, tokens, ids)
    finally:
        await session.close()
        await server.close()
