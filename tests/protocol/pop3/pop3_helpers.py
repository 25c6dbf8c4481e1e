"""A real POP3 server for wire tests: SQLite store, two accounts, listeners on loopback ports.

The server runs on its own event loop in a background thread, so tests drive it with blocking
clients (``poplib``, ``fetchmail``, raw sockets) and reach the store through :meth:`Pop3Stack.run`.
:meth:`Pop3Stack.restart` closes the store and the server and opens both again on the same
files, as a process restart would.

Used by ``tests/protocol/pop3``, ``tests/fuzz/test_pop3_*.py`` and ``tests/e2e/pop3``.
"""

from __future__ import annotations

import asyncio
import poplib
import secrets
import socket
import ssl
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")

USER, PASSWORD = "zhang.wei@demo.test", "Correct-horse-42"
USER2, PASSWORD2 = "li.na@demo.test", "Battery-staple-43"


def message(subject: str, body: str = "Hello", *, extra: bytes = b"") -> bytes:
    return (
        f"From: Wang Fang <wang@peer.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@peer.test>\r\n\r\n{body}\r\n"
    ).encode() + extra


@dataclass
class Ports:
    pop3: int
    pop3s: int | None


class Pop3Stack:
    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        self.data_dir = data_dir
        self.overrides = overrides
        self.master = secrets.token_bytes(32)
        self.cert = data_dir / "tls" / "cert.pem"
        self.key = data_dir / "tls" / "key.pem"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.ctx: Any = None
        self.reader: Any = None
        self.server: Any = None
        self.accounts: dict[str, Any] = {}
        self.inboxes: dict[str, Any] = {}
        self.ports = Ports(0, None)
        self.run(self._open(create=True))

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _open(self, *, create: bool) -> None:
        from rongmail.actions import accounts as acc
        from rongmail.actions.context import ActionContext
        from rongmail.bus import Bus
        from rongmail.config.pop3 import Pop3Settings
        from rongmail.config.settings import Settings
        from rongmail.protocols.pop3.server import start_pop3
        from rongmail.services.auth.authenticate import Authenticator, ThrottlePolicy
        from rongmail.services.tls.certs import server_context, write_self_signed
        from rongmail.store.fs.blobs import FsBlobStore
        from rongmail.store.fs.keys import KeyRing
        from rongmail.store.reader import Reader
        from rongmail.store.sql import directory as d
        from rongmail.store.sqlite.meta import SqliteMeta

        keys = KeyRing(self.master)
        meta = SqliteMeta(self.data_dir / "meta.sqlite3")
        await meta.open()
        keys.load(await meta.read(d.tenant_keys()))
        blobs = FsBlobStore(self.data_dir / "blobs", keys)
        self.ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys,
                                 settings=Settings())
        self.reader = Reader(meta, blobs)
        if create:
            self.cert.parent.mkdir(parents=True, exist_ok=True)
            write_self_signed(self.cert, self.key, "mail.demo.test")
            tenant = await acc.do_create_tenant(self.ctx, "demo")
            await acc.do_create_domain(self.ctx, tenant.id, "demo.test")
            await acc.do_create_account(self.ctx, USER, PASSWORD, display_name="Zhang Wei")
            await acc.do_create_account(self.ctx, USER2, PASSWORD2, display_name="Li Na")
        for user in (USER, USER2):
            account = await self.reader.account_by_address(user)
            self.accounts[user] = account
            self.inboxes[user] = await self.reader.mailbox_by_role(account.id, "inbox")
        settings = Pop3Settings(**{"auth_failure_delay": 0.0, **self.overrides})
        policy = ThrottlePolicy(lock_after=10_000, ip_accounts=10_000)
        self.server = await start_pop3(
            ctx=self.ctx, reader=self.reader, authenticator=Authenticator(self.reader, policy),
            settings=settings, hostname="mail.demo.test",
            listeners={"pop3": ("127.0.0.1", 0), "pop3s": ("127.0.0.1", 0)},
            tls=server_context(self.cert, self.key),
        )
        addrs = self.server.addresses
        self.ports = Ports(addrs["pop3"][1], addrs["pop3s"][1])

    async def _close(self) -> None:
        await self.server.aclose(grace=1)
        await self.ctx.meta.close()

    def restart(self) -> None:
        self.run(self._close())
        self.run(self._open(create=False))

    def stop(self) -> None:
        try:
            self.run(self._close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    # -- store access ------------------------------------------------------------------------

    def deliver(self, raw: bytes, user: str = USER) -> int:
        from rongmail.actions.messages import do_append_message

        async def go() -> int:
            r = await do_append_message(self.ctx, self.accounts[user].id,
                                        [self.inboxes[user].id], raw)
            return int(r.uid)

        return self.run(go())

    def inbox_uids(self, user: str = USER) -> list[int]:
        async def go() -> list[int]:
            entries = await self.reader.mailbox_entries(self.inboxes[user].id)
            return sorted(e.uid for e in entries)

        return self.run(go())

    def inbox_flags(self, user: str = USER) -> dict[int, int]:
        """uid -> flags bitmask (``rongmail.core.flags``)."""

        async def go() -> dict[int, int]:
            entries = await self.reader.mailbox_entries(self.inboxes[user].id)
            return {e.uid: e.flags for e in entries}

        return self.run(go())

    @property
    def uidvalidity(self) -> int:
        return int(self.inboxes[USER].uidvalidity)

    # -- clients -----------------------------------------------------------------------------

    def client_tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        ctx.check_hostname = False
        return ctx


def command(client: poplib.POP3, line: str) -> bytes:
    """Send any command through poplib; ``-ERR`` raises ``poplib.error_proto``."""
    return cast(bytes, client._shortcmd(line))  # type: ignore[attr-defined]


def single(response: object) -> bytes:
    """poplib's ``list(n)``/``uidl(n)`` return a status line (typeshed says a tuple)."""
    assert isinstance(response, bytes)
    return response


class Wire:
    """A raw line-level POP3 client for transcripts poplib cannot express."""

    def __init__(self, port: int, *, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One line without CRLF; ``b""`` at EOF."""
        return self.file.readline().rstrip(b"\r\n")

    def cmd(self, line: str) -> bytes:
        self.send(line.encode() + b"\r\n")
        return self.line()

    def multi(self) -> list[bytes]:
        """The lines of a multi-line body, un-stuffed, up to the terminator."""
        out: list[bytes] = []
        while True:
            raw = self.file.readline()
            if raw in (b".\r\n", b""):
                return out
            assert raw.endswith(b"\r\n"), raw
            raw = raw[:-2]
            out.append(raw[1:] if raw.startswith(b"..") else raw)

    def upgrade(self, ctx: ssl.SSLContext) -> None:
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mail.demo.test")
        self.file = self.sock.makefile("rb")

    def closed(self) -> bool:
        """True when the server closed the connection (EOF)."""
        try:
            return self.file.readline() == b""
        except OSError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()
