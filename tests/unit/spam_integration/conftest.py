"""A SQLite stack with one tenant (acme-corp.cn), a user, a boss and an admin."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rongmail.actions.accounts import do_create_account, do_create_domain, do_create_tenant
from rongmail.actions.context import ActionContext
from rongmail.actions.spam import SpamModels
from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.core.models import Account
from rongmail.pipeline.envelope import (
    AuthIdentity,
    Client,
    Envelope,
    Listener,
    Recipient,
    RecipientKind,
    Resolution,
)
from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.fs.keys import KeyRing
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d
from rongmail.store.sqlite.meta import SqliteMeta


@dataclass
class World:
    ctx: ActionContext
    reader: Reader
    models: SpamModels
    tenant_id: int
    user: Account
    boss: Account
    admin: Account

    def inbound(self, raw: bytes, *, to: Account | None = None) -> Envelope:
        acct = to or self.user
        res = Resolution(RecipientKind.LOCAL, (acct.id,), acct.address, self.tenant_id)
        return Envelope(Client("192.0.2.7", 40000, Listener.MX), helo="mx.example.net",
                        mail_from="bounce@example.net", rcpts=(Recipient(acct.address, res),),
                        message=raw, trace=b"Received: from mx.example.net by test\r\n",
                        session_id="t1")

    def submission(self, raw: bytes, rcpts: int = 1, *, who: Account | None = None) -> Envelope:
        acct = who or self.user
        ident = AuthIdentity(acct.id, self.tenant_id, acct.address, acct.address)
        res = Resolution(RecipientKind.REMOTE)
        return Envelope(Client("198.51.100.9", 40001, Listener.SUBMISSION), auth=ident,
                        mail_from=acct.address,
                        rcpts=tuple(Recipient(f"r{i}@remote.example", res) for i in range(rcpts)),
                        message=raw, session_id="s1")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    keys = KeyRing(secrets.token_bytes(32))
    meta = SqliteMeta(tmp_path / "meta.sqlite3")
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    ctx = ActionContext(meta=meta, blobs=FsBlobStore(tmp_path / "blobs", keys), bus=Bus(),
                        keys=keys, settings=Settings())
    try:
        tenant = await do_create_tenant(ctx, "acme")
        await do_create_domain(ctx, tenant.id, "acme-corp.cn")
        user = await do_create_account(ctx, "user@acme-corp.cn", "pw-Secret-123456",
                                       display_name="Li Na", check_password=False)
        boss = await do_create_account(ctx, "boss@acme-corp.cn", "pw-Secret-123456",
                                       display_name="Wang Jianguo", role="tenant_admin",
                                       check_password=False)
        admin = await do_create_account(ctx, "admin@acme-corp.cn", "pw-Secret-123456",
                                        display_name="IT Admin", role="tenant_admin",
                                        check_password=False)
        yield World(ctx, Reader(meta, ctx.blobs), SpamModels(ctx), tenant.id, user, boss, admin)
    finally:
        await meta.close()
