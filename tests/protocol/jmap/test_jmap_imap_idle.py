"""A JMAP change reaches IMAP IDLE sessions (issue 5, consistency): the IMAP listener and the
JMAP API share one store and one change bus; an ``Email/set`` keyword change and a move made
over JMAP arrive as untagged FETCH / EXPUNGE at an IDLE-ing IMAP client within a second."""

from __future__ import annotations

import asyncio
import time

import pytest
from jmap_helpers import PASSWORD, USER, JmapEnv

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


async def test_jmap_set_reaches_imap_idle(jmap: JmapEnv) -> None:
    imapclient = pytest.importorskip("imapclient")
    from rongmail.config.settings import Listeners, Settings
    from rongmail.protocols.imap.base import ImapOptions
    from rongmail.protocols.imap.server import start_imap
    from rongmail.services.auth.authenticate import Authenticator

    settings = Settings(listeners=Listeners(imap="127.0.0.1:0"))
    servers = await start_imap(
        ctx=jmap.ctx, reader=jmap.reader, settings=settings,
        authenticator=Authenticator(jmap.reader), tls=None,
        options=ImapOptions(hostname="mail.demo.test", allow_plaintext_auth=True,
                            auth_failure_delay=0.0))
    port = servers[0].sockets[0].getsockname()[1]
    first = await jmap.deliver("idle me", "x")
    archive = f"M{(await jmap.reader.mailbox_by_role(jmap.account.id, 'archive')).id}"
    inbox = f"M{(await jmap.reader.mailbox_by_role(jmap.account.id, 'inbox')).id}"
    loop = asyncio.get_running_loop()

    def jmap_call(patch: dict) -> None:
        asyncio.run_coroutine_threadsafe(
            jmap.one("Email/set", {"update": {f"E{first}": patch}}), loop).result(5)

    def client() -> tuple[float, list, list]:
        c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        c.select_folder("INBOX")
        c.idle()
        t0 = time.monotonic()
        jmap_call({"keywords/$flagged": True})
        flags = c.idle_check(timeout=5)
        elapsed = time.monotonic() - t0
        jmap_call({f"mailboxIds/{inbox}": None, f"mailboxIds/{archive}": True})
        gone: list = []
        deadline = time.monotonic() + 5
        while not any(r[1] == b"EXPUNGE" for r in gone) and time.monotonic() < deadline:
            gone += c.idle_check(timeout=1)
        c.idle_done()
        c.logout()
        return elapsed, flags, gone

    try:
        elapsed, flags, gone = await asyncio.to_thread(client)
    finally:
        for s in servers:
            s.close()
        for s in servers:
            await s.wait_closed()
    assert any(r[1] == b"FETCH" and b"\\Flagged" in r[2][r[2].index(b"FLAGS") + 1]
               for r in flags if len(r) > 2), flags
    assert elapsed < 1.0
    assert (1, b"EXPUNGE") in gone
