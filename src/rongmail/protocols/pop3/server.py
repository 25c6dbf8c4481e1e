"""The asyncio shell of POP3: listeners, TLS, timeouts, connection limits (RFC 1939, RFC 8314).

Role: accept connections on ``pop3`` (port 110, STLS, RFC 2595) and ``pop3s`` (port 995,
implicit TLS, RFC 8314 §3.3), move bytes between the socket and the sans-IO parser, and hand
each event to :class:`~.session.Session`. Everything protocol-shaped happens in the session.

Invariants:

* Built on ``asyncio.Protocol`` so the bytes received before a TLS upgrade are provably ours to
  drop: after ``+OK`` to STLS the local buffer and the parser are cleared and ``loop.start_tls``
  is entered without yielding to the loop (RFC 2595 §4; the CVE-2011-0411 class of bugs).
* The replies to the commands of one read are written together (fewer packets for pipelining
  clients), but never more than ``_FLUSH_AT`` octets are held before a write and its drain, so
  a pipelined burst of RETRs holds about one message in memory; reading pauses while unparsed
  input exceeds ``_HIGH_WATER``.
* Each read waits at most ``idle_timeout`` (RFC 1939 §3 asks for at least ten minutes), then
  ``-ERR`` and close.
* Limits at accept: ``max_connections`` overall and ``max_connections_per_ip``; one maildrop
  lock per account (``[IN-USE]``). The session's lock is released however the connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Mapping
from typing import cast

from rongmail.actions.context import ActionContext
from rongmail.config.pop3 import Pop3Settings
from rongmail.store.reader import Reader

from . import replies
from .base import PasswordAuthenticator, Pop3Deps
from .maildrop import MaildropLocks, WireSizes
from .proto.parser import Parser
from .replies import Reply
from .session import Session

log = logging.getLogger("rongmail.pop3")

__all__ = ["Pop3Server", "start_pop3"]

_HIGH_WATER = 256 * 1024
#: Replies to pipelined commands are written together up to this many octets.
_FLUSH_AT = 64 * 1024
#: Settings.listeners names we serve -> implicit TLS?
LISTENER_NAMES: Mapping[str, bool] = {"pop3": False, "pop3s": True}


class _Closed(Exception):
    """The peer went away, or the server is shutting down."""


class _Connection(asyncio.Protocol):
    def __init__(self, server: Pop3Server, *, implicit_tls: bool) -> None:
        self._server = server
        self._implicit_tls = implicit_tls
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._data = asyncio.Event()
        self._eof = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._tls = implicit_tls
        self._ip = ""
        self.task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        self._ip = str(peer[0])
        self.task = asyncio.get_running_loop().create_task(self._run())
        self._server._connections.add(self)
        self.task.add_done_callback(lambda _: self._server._connections.discard(self))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._data.set()
        if len(self._buf) > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._data.set()
        # keep the write side open: a client that half-closes after pipelining its commands
        # still gets every reply; _run closes the transport when the session ends. (TLS has
        # no half-close: there the transport closes itself.)
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._data.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def wake(self) -> None:
        self._data.set()

    # -- the connection --------------------------------------------------------------------

    async def _read(self, timeout: float) -> bytes:
        """The next received bytes; raises TimeoutError, or _Closed at EOF and shutdown."""
        async with asyncio.timeout(timeout):
            while not self._buf:
                if self._eof or self._server._closing.is_set():
                    raise _Closed
                self._data.clear()
                await self._data.wait()
        out = bytes(self._buf)
        self._buf.clear()
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return out

    async def _write(self, data: bytes) -> None:
        """Write and wait for the buffer to drain; a client that stops reading for
        ``idle_timeout`` is dropped (TimeoutError)."""
        if not data or self._transport is None or self._transport.is_closing():
            return
        self._transport.write(data)
        async with asyncio.timeout(self._server.deps.settings.idle_timeout):
            await self._can_write.wait()

    async def _run(self) -> None:
        server = self._server
        admitted = server._admit(self._ip)
        session: Session | None = None
        try:
            if not admitted:
                self._say(None, replies.ERR_TOO_MANY_CONNECTIONS_SYS_TEMP)
                return
            session = Session(server.deps, remote_ip=self._ip, tls_active=self._implicit_tls)
            await self._serve(session)
        except TimeoutError:
            self._say(session, replies.ERR_TIMEOUT)
        except _Closed:
            if server._closing.is_set():
                self._say(session, replies.ERR_SHUTTING_DOWN_SYS_TEMP)
        except (ConnectionError, ssl.SSLError) as e:
            log.debug("pop3 %s connection error: %s", self._ip, e)
        except Exception:
            log.exception("pop3 %s: unexpected error", self._ip)
        finally:
            if session is not None:
                session.close()
            if admitted:
                server._release(self._ip)
            if self._transport is not None:
                self._transport.close()

    async def _serve(self, session: Session) -> None:
        parser = Parser(self._server.deps.settings.max_line_length)
        await self._write(session.greeting())
        while not session.closing:
            events = parser.feed(await self._read(self._server.deps.settings.idle_timeout))
            for event in events:
                await session.handle(event)
                if session.starttls:
                    await self._write(session.take_output())
                    parser.take_buffered()
                    if not await self._start_tls():
                        return
                    session.tls_started()
                    break  # commands pipelined after STLS are dropped (RFC 2595 §4)
                if session.closing:
                    break
                if session.pending >= _FLUSH_AT:
                    await self._write(session.take_output())
                if self._server._closing.is_set():
                    raise _Closed
            # the replies to one read go out together (RFC 2449 §6.6)
            await self._write(session.take_output())

    def _say(self, session: Session | None, reply: Reply) -> None:
        """A last line, not waited for: the transport flushes it while closing."""
        data = session.shutdown(reply) if session is not None else reply.render()
        if self._transport is not None and not self._transport.is_closing():
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                self._transport.write(data)

    async def _start_tls(self) -> bool:
        """Enter TLS with no await between clearing the buffer and the handshake."""
        deps = self._server.deps
        transport = self._transport
        tls = self._server.tls
        if transport is None or tls is None:
            return False
        self._buf.clear()
        try:
            new = await asyncio.get_running_loop().start_tls(
                transport, self, tls, server_side=True,
                ssl_handshake_timeout=deps.settings.tls_handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as e:
            log.info("pop3 %s STLS handshake failed: %s", self._ip, e)
            return False
        if new is None:
            return False
        self._transport = new
        self._tls = True
        self._buf.clear()
        return True


class Pop3Server:
    """Every POP3 listener of one node. Build with :func:`start_pop3`."""

    def __init__(self, deps: Pop3Deps, tls: ssl.SSLContext | None) -> None:
        self.deps = deps
        self.tls = tls
        self.servers: dict[str, asyncio.Server] = {}
        self._connections: set[_Connection] = set()
        self._closing = asyncio.Event()
        self._per_ip: Counter[str] = Counter()
        self._total = 0
        self._close_task: asyncio.Task[None] | None = None

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        """Bound (host, port) per listener name; useful with port 0."""
        out: dict[str, tuple[str, int]] = {}
        for name, srv in self.servers.items():
            sock = srv.sockets[0].getsockname()
            out[name] = (str(sock[0]), int(sock[1]))
        return out

    @property
    def active_connections(self) -> int:
        return self._total

    def _admit(self, ip: str) -> bool:
        s = self.deps.settings
        if self._total >= s.max_connections or self._per_ip[ip] >= s.max_connections_per_ip:
            return False
        self._total += 1
        self._per_ip[ip] += 1
        return True

    def _release(self, ip: str) -> None:
        self._total -= 1
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]

    async def listen(self, name: str, host: str, port: int, *, reuse_port: bool = False) -> None:
        implicit = LISTENER_NAMES[name]
        if implicit and self.tls is None:
            raise ValueError("the pop3s listener (implicit TLS) needs a TLS context")
        loop = asyncio.get_running_loop()
        self.servers[name] = await loop.create_server(
            lambda: _Connection(self, implicit_tls=implicit),
            host,
            port,
            ssl=self.tls if implicit else None,
            ssl_handshake_timeout=self.deps.settings.tls_handshake_timeout if implicit else None,
            reuse_address=True,
            reuse_port=reuse_port,
        )
        log.info("pop3 %s listening on %s:%s", name, host, port)

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Stop accepting; idle sessions get ``-ERR [SYS/TEMP]``, others may finish a command.
        Sessions ended this way never reach UPDATE, so nothing is deleted."""
        for srv in self.servers.values():
            srv.close()
        self._closing.set()
        tasks = {c.task for c in self._connections if c.task is not None}
        for conn in list(self._connections):
            conn.wake()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        for srv in self.servers.values():
            await srv.wait_closed()

    # the close()/wait_closed() shape App.close() expects of every listener
    def close(self) -> None:
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self.aclose())

    async def wait_closed(self) -> None:
        self.close()
        if self._close_task is not None:
            await self._close_task


async def start_pop3(
    *,
    ctx: ActionContext,
    reader: Reader,
    authenticator: PasswordAuthenticator,
    settings: Pop3Settings,
    hostname: str,
    listeners: Mapping[str, tuple[str, int]],
    tls: ssl.SSLContext | None,
    reuse_port: bool = False,
) -> Pop3Server:
    """Start the POP3 listeners named in ``listeners`` and return the running server.

    ``listeners`` uses the names of ``Settings.listeners`` mapped to ``(host, port)``, e.g.
    ``settings.listeners.enabled()``: ``pop3`` (STLS) and ``pop3s`` (implicit TLS); other names
    are ignored. ``tls`` enables STLS and is required for ``pop3s``. ``hostname`` is used when
    ``settings.hostname`` is empty. Stop with ``close()`` + ``await wait_closed()`` (or
    ``await aclose()``). ``reuse_port``: bind with SO_REUSEPORT (``[server] workers`` > 1).
    """
    deps = Pop3Deps(
        ctx=ctx,
        reader=reader,
        authenticator=authenticator,
        settings=settings,
        hostname=settings.hostname or hostname,
        tls_available=tls is not None,
        locks=MaildropLocks(),
        sizes=WireSizes(),
    )
    server = Pop3Server(deps, tls)
    try:
        for name, (host, port) in listeners.items():
            if name in LISTENER_NAMES:
                await server.listen(name, host, port, reuse_port=reuse_port)
    except BaseException:
        await server.aclose(grace=0)
        raise
    return server
