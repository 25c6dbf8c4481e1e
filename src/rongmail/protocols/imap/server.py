"""The IMAP listener: asyncio shell around :class:`~.session.Session` (RFC 9051, RFC 8314).

Role: accept connections on 143 (STARTTLS) and 993 (implicit TLS), enforce the per-IP and
per-account session limits and the idle timeout, move bytes between the socket and the sans-IO
parser, switch to TLS (RFC 9051 §6.2.1) or DEFLATE (RFC 4978) when a handler asks, and wait on
the change bus while the client IDLEs.

Invariants:

* Only this module awaits the socket. Output is written after every event, so a continuation
  request is on the wire before we wait for the literal.
* Bytes pipelined before a STARTTLS completes are discarded (CVE-2011-0411 class of bugs).
* A compressed stream is inflated in bounded steps (``max_length``), so a deflate bomb costs
  at most one chunk of memory at a time.
* Every session leaves the registry and the bus when its connection ends, however it ends.

``start_imap`` is what the composition root calls; see its docstring for the signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from rongmail.config.imap import ImapSettings
from rongmail.core.listen import SharedListeners, SharedServer
from rongmail.i18n import t

from .base import ImapDeps, ImapOptions, PasswordAuthenticator, SessionRegistry, State
from .proto.parser import Limits
from .proto.response import untagged_status
from .session import Session

if TYPE_CHECKING:
    from rongmail.actions.context import ActionContext
    from rongmail.config.settings import Settings
    from rongmail.store.reader import Reader

log = logging.getLogger("rongmail.imap")

__all__ = ["ImapServer", "Listener", "options_from_settings", "start_imap"]

READ_CHUNK = 64 * 1024


class _Conn:
    """One socket, optionally DEFLATE-compressed in both directions (RFC 4978)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._inflate: zlib._Decompress | None = None
        self._deflate: zlib._Compress | None = None
        self._pushback = b""

    def enable_compression(self, leftover: bytes) -> None:
        self._inflate = zlib.decompressobj(-15)
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._pushback = leftover

    async def read(self) -> bytes:
        """Next chunk of (inflated) client bytes; ``b""`` at end of stream."""
        inflater = self._inflate
        if inflater is None:
            return await self.reader.read(READ_CHUNK)
        while True:
            if inflater.unconsumed_tail:
                return inflater.decompress(inflater.unconsumed_tail, READ_CHUNK)
            raw, self._pushback = (
                (self._pushback, b"")
                if self._pushback
                else (await self.reader.read(READ_CHUNK), b"")
            )
            if not raw:
                return b""
            out = inflater.decompress(raw, READ_CHUNK)
            if out:
                return out

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._deflate is not None:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self.writer.write(data)
        await self.writer.drain()


class _Watchdog:
    """The read timeout of one connection: one timer per connection, not one per read.

    A read arms it (a deadline, no timer call) and disarms it when bytes arrive; the single
    timer, when it fires, re-arms itself at the current deadline if the connection read
    since, and only cancels the connection's task (like ``asyncio.timeout``) when a read has
    waited past its deadline. Invariant: while a read waits, a timer is scheduled no later
    than that read's deadline.
    """

    __slots__ = ("_loop", "_task", "_handle", "deadline", "waiting", "expired")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self._loop = task.get_loop()
        self._task = task
        self._handle: asyncio.TimerHandle | None = None
        self.deadline = 0.0
        self.waiting = False
        self.expired = False

    def arm(self, timeout: float) -> None:
        self.deadline = self._loop.time() + timeout
        self.waiting = True
        h = self._handle
        if h is not None and h.when() > self.deadline:  # a shorter timeout than the timer's
            h.cancel()
            h = None
        if h is None:
            self._handle = self._loop.call_at(self.deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if not self.waiting:
            return  # the next read arms a new timer
        if self._loop.time() < self.deadline:
            self._handle = self._loop.call_at(self.deadline, self._fire)
            return
        self.expired = True
        self._task.cancel()

    def close(self) -> None:
        self.waiting = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class ImapServer:
    """Accepts connections and runs one session per connection."""

    def __init__(self, deps: ImapDeps) -> None:
        self.deps = deps
        opts = deps.options
        self.registry = SessionRegistry(
            per_ip=opts.max_sessions_per_ip, per_user=opts.max_sessions_per_user
        )
        self.sessions: set[Session] = set()
        self.tasks: set[asyncio.Task[object]] = set()

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit_tls: bool
    ) -> None:
        peer = writer.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        conn = _Conn(reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)  # type: ignore[arg-type]
        try:
            if not self.registry.add_ip(ip):
                text = t("imap.bye.too_many_connections", "en")
                await conn.write(untagged_status("BYE", text, code="UNAVAILABLE"))
                return
            try:
                await self._run(conn, ip, implicit_tls)
            finally:
                self.registry.remove_ip(ip)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # Shutdown ends this connection task; it is the top of its task, so finishing
            # normally is right (asyncio's stream callback on 3.11 would log a cancelled one).
            pass
        except Exception:
            log.exception("imap connection from %s failed", ip)
        finally:
            if task is not None:
                self.tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            # a TLS close waits for the peer's close_notify; a vanished or silent peer must not
            # hold the task (or a shutdown) for the transport's 30 s default
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)

    async def shutdown(self) -> None:
        """End every connection (the listeners are closed by the caller)."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _run(self, conn: _Conn, ip: str, implicit_tls: bool) -> None:
        async def flush() -> None:
            await conn.write(session.take_output())

        session = Session(
            self.deps, remote_ip=ip, tls_active=implicit_tls, flush=flush, registry=self.registry
        )
        self.sessions.add(session)
        read_task: asyncio.Task[bytes] | None = None
        task = asyncio.current_task()
        assert task is not None
        watchdog = _Watchdog(task)
        try:
            await conn.write(session.greeting())
            while not session.closing:
                events = session.parser.feed(b"")
                if not events:
                    if read_task is None and session.idle_tag is None:
                        data = await self._read(session, conn, watchdog)
                    else:  # IDLE: the client's DONE and the change bus race
                        if read_task is None:
                            read_task = asyncio.ensure_future(conn.read())
                        data = await self._wait_input(session, conn, read_task)
                        if read_task.done():
                            read_task = None
                    if not data:
                        break
                    events = session.parser.feed(data)
                for event in events:
                    await session.handle(event)
                    await conn.write(session.take_output())
                    if session.upgrade is not None:
                        await self._upgrade(session, conn)
                    if session.closing:
                        break
        finally:
            watchdog.close()
            if read_task is not None:
                read_task.cancel()
            session.close()
            self.sessions.discard(session)

    def _timeout(self, session: Session) -> float:
        opts = self.deps.options
        if session.state is State.NOT_AUTHENTICATED:
            return opts.login_timeout
        return opts.idle_timeout

    async def _read(self, session: Session, conn: _Conn, watchdog: _Watchdog) -> bytes:
        """Wait for client bytes outside IDLE: no extra task, no bus, no timer of its own (an
        idle connection is one task parked in one read, timed by its :class:`_Watchdog`).
        ``b""`` at end of stream or after the timeout (then the session has said BYE)."""
        watchdog.arm(self._timeout(session))
        try:
            return await conn.read()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not watchdog.expired or task is None or task.uncancel() > 0:
                raise  # a shutdown, not our timeout
            watchdog.expired = False
        finally:
            watchdog.waiting = False
        session.bye("imap.bye.timeout")
        await conn.write(session.take_output())
        return b""

    async def _wait_input(
        self, session: Session, conn: _Conn, read_task: asyncio.Task[bytes]
    ) -> bytes:
        """Wait for client bytes; while IDLE, also push bus changes to the client.

        Returns the bytes, or ``b""`` at end of stream or after a timeout (then the session has
        said BYE).
        """
        timeout = self._timeout(session)
        while True:
            waits: set[asyncio.Future[object]] = {read_task}  # type: ignore[arg-type]
            bus: asyncio.Task[object] | None = None
            if session.idle_tag is not None and session.subscription is not None:
                bus = asyncio.ensure_future(session.wait_bus())
                waits.add(bus)  # type: ignore[arg-type]
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if bus is not None:
                if bus in done:
                    await session.send_updates(expunges=True)
                    await conn.write(session.take_output())
                else:
                    bus.cancel()
            if read_task in done:
                return read_task.result()
            if not done:
                session.bye("imap.bye.timeout")
                await conn.write(session.take_output())
                return b""

    async def _upgrade(self, session: Session, conn: _Conn) -> None:
        kind, session.upgrade = session.upgrade, None
        if kind == "starttls" and self.deps.tls is not None:
            session.parser.take_buffered()  # plaintext injected before the handshake
            await conn.writer.start_tls(self.deps.tls)
            session.tls_active = True
        elif kind == "compress":
            conn.enable_compression(session.parser.take_buffered())
            session.compressed = True


CLOSE_TIMEOUT = 2.0


class Listener:
    """An ``asyncio.Server`` (or a shared one) whose ``close``/``wait_closed`` also end open
    sessions."""

    def __init__(self, server: asyncio.Server | SharedServer, imap: ImapServer) -> None:
        self.server = server
        self.imap = imap
        self.sockets = server.sockets

    def close(self) -> None:
        self.server.close()

    async def wait_closed(self) -> None:
        await self.imap.shutdown()
        await self.server.wait_closed()


def options_from_settings(settings: Settings) -> ImapOptions:
    """Map the settings (``Settings.imap``, ``config/imap.py``) onto the listener options."""
    imap: ImapSettings = settings.imap
    limits = settings.limits
    return ImapOptions(
        hostname=imap.hostname or settings.server.hostname,
        locale=settings.server.default_locale,
        timezone=settings.server.timezone,
        limits=Limits(
            max_line=imap.max_line_length,
            max_literal=imap.max_literal_bytes,
            max_command=imap.max_command_bytes,
            max_append=limits.max_message_bytes,
            max_append_command=imap.multiappend_size_factor * limits.max_message_bytes,
            max_pipelined=imap.max_pipelined,
        ),
        allow_plaintext_auth=imap.allow_plaintext_auth,
        max_sessions_per_ip=min(imap.max_sessions_per_ip, limits.max_connections_per_ip),
        max_sessions_per_user=imap.max_sessions_per_user,
        idle_timeout=max(imap.idle_timeout, float(limits.idle_timeout_seconds)),
        login_timeout=imap.login_timeout,
        auth_failure_delay=imap.auth_failure_delay,
        max_auth_failures=imap.max_auth_failures,
        max_bad_commands=imap.max_bad_commands,
    )


async def start_imap(
    *,
    ctx: ActionContext,
    reader: Reader,
    settings: Settings,
    authenticator: PasswordAuthenticator,
    tls: ssl.SSLContext | None,
    options: ImapOptions | None = None,
    shared: SharedListeners | None = None,
) -> list[Listener]:
    """Start the ``imap`` (STARTTLS) and ``imaps`` (implicit TLS) listeners that are enabled in
    ``settings.listeners``; ``imaps`` needs ``tls``. Returns the started servers (the caller
    closes them; ``wait_closed`` also ends open sessions). ``options`` overrides what :func:`options_from_settings` derives.
    ``shared``: listening sockets bound by the primary, used instead of binding
    (``[server] workers`` > 1: every process accepts from the primary's, ``core.listen``)."""
    deps = ImapDeps(ctx, reader, authenticator, options or options_from_settings(settings), tls)
    server = ImapServer(deps)
    enabled = settings.listeners.enabled()
    servers: list[Listener] = []
    if "imap" in enabled:
        host, port = enabled["imap"]

        async def plain(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await server.handle(r, w, implicit_tls=False)

        servers += [Listener(srv, server)
                    for srv in await _listen(plain, host, port, shared, "imap", None)]
    if "imaps" in enabled and tls is not None:
        host, port = enabled["imaps"]

        async def secure(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await server.handle(r, w, implicit_tls=True)

        servers += [Listener(srv, server)
                    for srv in await _listen(secure, host, port, shared, "imaps", tls)]
    return servers


async def _listen(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    host: str,
    port: int,
    shared: SharedListeners | None,
    name: str,
    tls: ssl.SSLContext | None,
) -> list[asyncio.Server | SharedServer]:
    """Serve ``handler`` on the shared sockets of ``name`` if there are any, else bind."""
    if shared is None or name not in shared.sockets:
        return [await asyncio.start_server(handler, host, port, ssl=tls, limit=READ_CHUNK)]

    def streams() -> asyncio.BaseProtocol:  # what asyncio.start_server builds per connection
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=READ_CHUNK), handler)

    return list(await shared.serve(name, streams, ssl=tls))
