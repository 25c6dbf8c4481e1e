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
  input exceeds ``listener.HIGH_WATER``.
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
import time
from collections.abc import Mapping

from rongmail.actions.context import ActionContext
from rongmail.config.pop3 import Pop3Settings
from rongmail.core.listen import SharedListeners
from rongmail.protocols.listener import BufferedConnection, ListenerGroup
from rongmail.store.reader import Reader

from . import replies
from .base import PasswordAuthenticator, Pop3Deps
from .maildrop import MaildropLocks, WireSizes
from .proto.parser import Parser
from .replies import Reply
from .session import Session

log = logging.getLogger("rongmail.pop3")

__all__ = ["Pop3Server", "start_pop3"]

#: Replies to pipelined commands are written together up to this many octets.
_FLUSH_AT = 64 * 1024
#: Settings.listeners names we serve -> implicit TLS?
LISTENER_NAMES: Mapping[str, bool] = {"pop3": False, "pop3s": True}


class _Closed(Exception):
    """The peer went away, or the server is shutting down."""


class _Connection(BufferedConnection):
    def __init__(self, server: Pop3Server, *, implicit_tls: bool) -> None:
        super().__init__(server)
        self._server = server
        self._implicit_tls = implicit_tls
        self._tls = implicit_tls

    def eof_received(self) -> bool:
        super().eof_received()
        # keep the write side open: a client that half-closes after pipelining its commands
        # still gets every reply; _run closes the transport when the session ends. (TLS has
        # no half-close: there the transport closes itself.)
        return not self._tls

    # -- the connection --------------------------------------------------------------------

    async def _read(self, timeout: float) -> bytes:
        """The next received bytes; raises TimeoutError, or _Closed at EOF and shutdown."""
        deadline = time.monotonic() + timeout
        while not self._buf:
            if self._eof or self._server.closing.is_set():
                raise _Closed
            await self.wait_data(deadline - time.monotonic())
        return self.take()

    async def _write(self, data: bytes) -> None:
        """Write and wait for the buffer to drain; a client that stops reading for
        ``idle_timeout`` is dropped (TimeoutError)."""
        if data:
            await self.send(data, self._server.deps.settings.idle_timeout)

    async def refuse(self) -> None:
        self._say(None, replies.ERR_TOO_MANY_CONNECTIONS_SYS_TEMP)

    async def serve(self, peer: tuple[object, ...], transport: asyncio.Transport) -> None:
        session: Session | None = None
        try:
            session = Session(self._server.deps, remote_ip=self._ip, tls_active=self._implicit_tls)
            await self._serve(session)
        except TimeoutError:
            self._say(session, replies.ERR_TIMEOUT)
        except _Closed:
            if self._server.closing.is_set():
                self._say(session, replies.ERR_SHUTTING_DOWN_SYS_TEMP)
        finally:
            if session is not None:
                session.close()

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
                if self._server.closing.is_set():
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
        server = self._server
        if not await self.start_tls(
            server.tls, server.deps.settings.tls_handshake_timeout, "STLS"
        ):
            return False
        self._tls = True
        return True


class Pop3Server(ListenerGroup):
    """Every POP3 listener of one node. Build with :func:`start_pop3`."""

    def __init__(self, deps: Pop3Deps, tls: ssl.SSLContext | None) -> None:
        super().__init__(deps.settings, log=log, protocol="pop3")
        self.deps = deps
        self.tls = tls

    async def listen(self, name: str, host: str, port: int, *,
                     shared: SharedListeners | None = None) -> None:
        implicit = LISTENER_NAMES[name]
        if implicit and self.tls is None:
            raise ValueError("the pop3s listener (implicit TLS) needs a TLS context")
        await self.bind(
            name, host, port, lambda: _Connection(self, implicit_tls=implicit),
            tls=self.tls if implicit else None, shared=shared,
        )

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Stop accepting; idle sessions get ``-ERR [SYS/TEMP]``, others may finish a command.
        Sessions ended this way never reach UPDATE, so nothing is deleted."""
        await super().aclose(grace=grace)


async def start_pop3(
    *,
    ctx: ActionContext,
    reader: Reader,
    authenticator: PasswordAuthenticator,
    settings: Pop3Settings,
    hostname: str,
    listeners: Mapping[str, tuple[str, int]],
    tls: ssl.SSLContext | None,
    shared: SharedListeners | None = None,
) -> Pop3Server:
    """Start the POP3 listeners named in ``listeners`` and return the running server.

    ``listeners`` uses the names of ``Settings.listeners`` mapped to ``(host, port)``, e.g.
    ``settings.listeners.enabled()``: ``pop3`` (STLS) and ``pop3s`` (implicit TLS); other names
    are ignored. ``tls`` enables STLS and is required for ``pop3s``. ``hostname`` is used when
    ``settings.hostname`` is empty. Stop with ``close()`` + ``await wait_closed()`` (or
    ``await aclose()``). ``shared``: listening sockets bound by the primary, used instead of
    binding (``[server] workers`` > 1, ``core.listen``).
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
                await server.listen(name, host, port, shared=shared)
    except BaseException:
        await server.aclose(grace=0)
        raise
    return server
