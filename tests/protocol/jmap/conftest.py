"""Fixtures for JMAP tests: a real storage stack (SQLite or PostgreSQL), two accounts, and the
HTTP listener (web login + JMAP) on a loopback port. Tests speak HTTP to it like any client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jmap_helpers import PASSWORD, USER, USER2, JmapEnv


@pytest.fixture
async def jmap(stack: object, tmp_path: Path) -> AsyncIterator[JmapEnv]:
    import aiohttp
    from aiohttp.test_utils import TestServer

    from rongmail.actions import accounts as acc
    from rongmail.actions.jmap import do_create_token
    from rongmail.protocols import jmap as jmap_pkg
    from rongmail.protocols.http import login
    from rongmail.protocols.http.server import HttpDeps, build_http_app
    from rongmail.services.auth.authenticate import Authenticator

    ctx, reader = stack.ctx, stack.reader  # type: ignore[attr-defined]
    tenant = await acc.do_create_tenant(ctx, "demo")
    await acc.do_create_domain(ctx, tenant.id, "demo.test")
    account = await acc.do_create_account(ctx, USER, PASSWORD, display_name="Zhang San")
    other = await acc.do_create_account(ctx, USER2, PASSWORD, display_name="Li Si")
    deps = HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader, auth=Authenticator(reader))
    app = build_http_app(deps, [login.register, jmap_pkg.register])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    token, _ = await do_create_token(ctx, account.id, kind="bearer", name="tests")
    token2, _ = await do_create_token(ctx, other.id, kind="bearer", name="tests")
    session = aiohttp.ClientSession()
    env = JmapEnv(ctx=ctx, reader=reader, account=account, other=other,
                  base=str(server.make_url("")).rstrip("/"), token=token, token2=token2,
                  http=session)
    try:
        yield env
    finally:
        await session.close()
        await server.close()
