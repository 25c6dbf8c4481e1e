"""The quarantine HTTP API over a real aiohttp server (login, JMAP and quarantine routes)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from rongmail.actions import accounts as acc
from rongmail.actions.context import ActionContext
from rongmail.actions.spam import SpamModels
from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.envelope import (
    Client,
    Envelope,
    Listener,
    Recipient,
    RecipientKind,
    Resolution,
)
from rongmail.pipeline.quarantine import QuarantineDelivery
from rongmail.pipeline.stage import Checkpoint
from rongmail.pipeline.stages.spam import SpamStage
from rongmail.protocols import jmap as jmap_pkg
from rongmail.protocols.http import login, quarantine
from rongmail.protocols.http.server import HttpDeps, build_http_app
from rongmail.services.auth.authenticate import Authenticator
from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.fs.keys import KeyRing
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d
from rongmail.store.sqlite.meta import SqliteMeta

PASSWORD = "correct horse battery staple 9"


@dataclass
class QEnv:
    ctx: ActionContext
    reader: Reader
    models: SpamModels
    base: str
    tenant_id: int
    user: Any
    other: Any
    admin: Any
    boss: Any

    async def deliver(self, raw: bytes, to: Any | None = None) -> str:
        acct = to or self.user
        res = Resolution(RecipientKind.LOCAL, (acct.id,), acct.address, self.tenant_id)
        env = Envelope(Client("192.0.2.7", 40000, Listener.MX), helo="mx.example.net",
                       mail_from="bounce@example.net", rcpts=(Recipient(acct.address, res),),
                       message=raw, trace=b"Received: from mx.example.net by test\r\n")
        verdict = await SpamStage(self.ctx.meta, self.models).check(Checkpoint.DATA, env)
        delivery = QuarantineDelivery(ActionDelivery(self.ctx, self.reader), self.ctx)
        return await delivery.deliver(env, verdict)

    async def session(self, address: str) -> tuple[aiohttp.ClientSession, str]:
        """A browser-like session: cookie jar + the CSRF token from /api/login."""
        s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with s.post(self.base + "/api/login",
                          json={"username": address, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        return s, body["csrfToken"]


@pytest.fixture
async def qenv(tmp_path: Path) -> AsyncIterator[QEnv]:
    keys = KeyRing(secrets.token_bytes(32))
    meta = SqliteMeta(tmp_path / "meta.sqlite3")
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    ctx = ActionContext(meta=meta, blobs=FsBlobStore(tmp_path / "blobs", keys), bus=Bus(),
                        keys=keys, settings=Settings())
    reader = Reader(meta, ctx.blobs)
    tenant = await acc.do_create_tenant(ctx, "acme")
    await acc.do_create_domain(ctx, tenant.id, "acme-corp.cn")
    user = await acc.do_create_account(ctx, "user@acme-corp.cn", PASSWORD, display_name="Li Na")
    other = await acc.do_create_account(ctx, "other@acme-corp.cn", PASSWORD,
                                        display_name="Zhao Lei")
    admin = await acc.do_create_account(ctx, "admin@acme-corp.cn", PASSWORD,
                                        display_name="IT Admin", role="tenant_admin")
    boss = await acc.do_create_account(ctx, "boss@acme-corp.cn", PASSWORD,
                                       display_name="Wang Jianguo", role="tenant_admin")
    models = SpamModels(ctx)
    deps = HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader, auth=Authenticator(reader),
                    extra={"spam_models": models})
    app = build_http_app(deps, [login.register, jmap_pkg.register, quarantine.register])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield QEnv(ctx, reader, models, str(server.make_url("")).rstrip("/"), tenant.id, user,
                   other, admin, boss)
    finally:
        await server.close()
        await meta.close()
