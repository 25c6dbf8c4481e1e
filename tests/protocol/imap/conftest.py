"""Fixtures for IMAP wire tests: a real storage stack (SQLite), one account, and the IMAP
listener on a loopback port. Clients (imaplib, imapclient) run in a thread so the server's
event loop keeps serving.

Skips cleanly while the store/actions layer is not importable.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from imap_helpers import PASSWORD, USER, ImapEnv


@pytest.fixture(scope="session")
def imap_tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from rongmail.services.tls.certs import write_self_signed

    d = tmp_path_factory.mktemp("imap-tls")
    write_self_signed(d / "cert.pem", d / "key.pem", "mail.demo.test")
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
async def imap(tmp_path: Path, imap_tls_files: tuple[Path, Path]) -> AsyncIterator[ImapEnv]:
    pytest.importorskip("rongmail.store.sqlite.meta", reason="store layer not there yet")
    pytest.importorskip("rongmail.actions.messages", reason="actions layer not there yet")
    from rongmail.actions import accounts as acc
    from rongmail.actions.context import ActionContext
    from rongmail.bus import Bus
    from rongmail.config.settings import Listeners, Settings
    from rongmail.protocols.imap.base import ImapOptions
    from rongmail.protocols.imap.proto.parser import Limits
    from rongmail.protocols.imap.server import start_imap
    from rongmail.services.auth.authenticate import Authenticator
    from rongmail.services.tls.certs import server_context
    from rongmail.store.fs.blobs import FsBlobStore
    from rongmail.store.fs.keys import KeyRing
    from rongmail.store.reader import Reader
    from rongmail.store.sql import directory as d
    from rongmail.store.sqlite.meta import SqliteMeta

    keys = KeyRing(secrets.token_bytes(32))
    meta = SqliteMeta(tmp_path / "meta.sqlite3")
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    blobs = FsBlobStore(tmp_path / "blobs", keys)
    settings = Settings(listeners=Listeners(imap="127.0.0.1:0", imaps="127.0.0.1:0"))
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys, settings=settings)
    reader = Reader(meta, blobs)
    tenant = await acc.do_create_tenant(ctx, "demo")
    await acc.do_create_domain(ctx, tenant.id, "demo.test")
    account = await acc.do_create_account(ctx, USER, PASSWORD, display_name="Li Si")
    inbox = await reader.mailbox_by_role(account.id, "inbox")
    tls = server_context(*imap_tls_files)
    options = ImapOptions(
        hostname="mail.demo.test",
        limits=Limits(max_append=1024 * 1024, max_line=8192, max_literal=8192),
        allow_plaintext_auth=True,
        auth_failure_delay=0.0,
        max_sessions_per_ip=20,
        max_sessions_per_user=10,
        idle_timeout=60.0,
    )
    servers = await start_imap(
        ctx=ctx, reader=reader, settings=settings, authenticator=Authenticator(reader),
        tls=tls, options=options,
    )
    port = servers[0].sockets[0].getsockname()[1]
    tls_port = servers[1].sockets[0].getsockname()[1] if len(servers) > 1 else None
    env = ImapEnv("127.0.0.1", port, tls_port, ctx, reader, account, inbox,
                  asyncio.get_running_loop())
    env.extra["server"] = servers[0].imap
    try:
        yield env
    finally:
        for s in servers:
            s.close()
        for s in servers:
            await s.wait_closed()
        await meta.close()
