"""The asyncio shell of SMTP: listeners, TLS, timeouts, connection limits (RFC 5321 §4.5.3.2).

Everything protocol-shaped happens in :class:`~rongmail.protocols.smtp.session.Session`; this
module only moves bytes. It is built on ``asyncio.Protocol`` rather than streams so that the
bytes received before a TLS upgrade are provably ours to drop: on STARTTLS the 220 is written and
``loop.start_tls`` is entered without yielding to the loop, after the local buffer was cleared
(RFC 3207 §4.2, CVE-2011-0411).

Listeners: ``smtp`` (MX, port 25), ``submission`` (587, STARTTLS then AUTH, RFC 6409) and
``submissions`` (465, implicit TLS, RFC 8314 §3.3). TLS 1.2 is the floor (RFC 8996, RFC 8314).

Limits: ``max_connections`` overall and ``max_connections_per_ip`` are enforced at accept with a
421 (RFC 5321 §3.8); each read waits at most ``idle_timeout`` (§4.5.3.2.7) and a connection lives
at most ``session_timeout``. Reading pauses while a session is busy with more than
``listener.HIGH_WATER`` unprocessed octets, so a fast sender cannot grow our buffers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from rongmail.config.smtp import SmtpSettings
from rongmail.core.listen import SharedListeners
from rongmail.pipeline.envelope import Client, Listener
from rongmail.protocols.listener import BufferedConnection, ListenerGroup
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.session import Session, SmtpServices

log = logging.getLogger(__name__)

#: Settings.listeners field name -> kind of SMTP listener.
LISTENER_NAMES: Mapping[str, Listener] = {
    "smtp": Listener.MX,
    "submission": Listener.SUBMISSION,
    "submissions": Listener.SUBMISSIONS,
}


def client_key(ip: str) -> str:
    """What one "client" is for connection limits: an IPv4 address, or an IPv6 /64 (one
    subscriber's usual allocation, RFC 6177), so rotating addresses does not evade the limit."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return ip


def tls_context(cert_file: str, key_file: str, *, min_version: str = "TLSv1.2") -> ssl.SSLContext:
    """A server context with TLS 1.2+ (``min_version`` ``TLSv1.2`` or ``TLSv1.3``)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if min_version == "TLSv1.3" else ssl.TLSVersion.TLSv1_2
    )
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


@dataclass(frozen=True, slots=True)
class _Ctx:
    settings: SmtpSettings
    services: SmtpServices
    hostname: str
    ssl_context: ssl.SSLContext | None


class _Connection(BufferedConnection):
    def __init__(self, server: SmtpServer, listener: Listener) -> None:
        super().__init__(server)
        self._server = server
        self._listener = listener

    async def _read(self, deadline: float) -> bytes | None:
        idle = self._server._ctx.settings.idle_timeout
        if time.monotonic() >= deadline:  # also for a client that never lets the buffer drain
            raise _SessionTooLong
        while not self._buf:
            if self._eof:
                return None
            if self._server.closing.is_set():
                raise _ShuttingDown
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _SessionTooLong
            try:
                await self.wait_data(min(idle, remaining))
            except TimeoutError:
                if remaining <= idle:
                    raise _SessionTooLong from None
                raise
        return self.take()

    async def refuse(self) -> None:
        hostname = self._server._ctx.hostname
        await self.send(codes.R421_TOO_MANY_CONNECTIONS.format(hostname=hostname).encode())

    async def serve(self, peer: tuple[object, ...], transport: asyncio.Transport) -> None:
        ctx = self._server._ctx
        session: Session | None = None
        try:
            sock = transport.get_extra_info("sockname") or ("", 0)
            tls = self._tls_version(transport)
            client = Client(
                ip=self._ip,
                port=int(peer[1]) if len(peer) > 1 else 0,  # type: ignore[call-overload]
                listener=self._listener,
                local_ip=str(sock[0]),
                local_port=int(sock[1]),
                tls=tls["version"] is not None,
                tls_version=tls["version"],
                tls_cipher=tls["cipher"],
            )
            session = Session(
                settings=ctx.settings,
                services=ctx.services,
                client=client,
                hostname=ctx.hostname,
                tls_available=ctx.ssl_context is not None,
            )
            deadline = time.monotonic() + ctx.settings.session_timeout
            out = await session.start()
            await self.send(out.data)
            while not out.close:
                data = await self._read(deadline)
                if data is None:
                    return
                out = await session.receive(data)
                if out.starttls:
                    if not await self.start_tls(
                        ctx.ssl_context, ctx.settings.tls_handshake_timeout, "STARTTLS", out.data
                    ):
                        return
                    session.tls_started(**self._tls_version(self._transport))
                    continue
                if out.data:
                    await self.send(out.data)
        except TimeoutError:
            await self._say(session, codes.R421_TIMEOUT)
        except _SessionTooLong:
            await self._say(session, codes.R421_SESSION_TOO_LONG)
        except _ShuttingDown:
            await self._say(session, codes.R421_SHUTTING_DOWN)

    async def _say(self, session: Session | None, reply: codes.Reply) -> None:
        hostname = self._server._ctx.hostname
        data = session.shutdown(reply) if session else reply.format(hostname=hostname).encode()
        try:
            await self.send(data)
        except (ConnectionError, ssl.SSLError):
            pass

    @staticmethod
    def _tls_version(transport: asyncio.BaseTransport | None) -> dict[str, str | None]:
        obj = transport.get_extra_info("ssl_object") if transport is not None else None
        if obj is None:
            return {"version": None, "cipher": None}
        cipher = obj.cipher()
        return {"version": obj.version(), "cipher": cipher[0] if cipher else None}


class _ShuttingDown(Exception):
    pass


class _SessionTooLong(Exception):
    pass


class SmtpServer(ListenerGroup):
    """All SMTP listeners of one node. Build with :func:`start_smtp`.

    Connections are limited per :func:`client_key` (an IPv6 /64 counts as one client). On
    ``aclose`` (default grace 10 s) idle sessions get 421 4.3.2, in-flight deliveries may
    finish."""

    def __init__(
        self,
        *,
        settings: SmtpSettings,
        services: SmtpServices,
        hostname: str,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(settings, log=log, protocol="smtp", client_key=client_key)
        self._ctx = _Ctx(settings, services, hostname, ssl_context)

    async def listen(self, name: str, host: str, port: int, *,
                     shared: SharedListeners | None = None) -> None:
        """Start listener ``name`` (a key of :data:`LISTENER_NAMES`) on ``host:port``, or on
        the sockets ``shared`` by several serving processes holds for it (``core.listen``)."""
        ctx = self._ctx
        kind = LISTENER_NAMES[name]
        implicit = kind is Listener.SUBMISSIONS
        if implicit and ctx.ssl_context is None:
            raise ValueError("the submissions listener (implicit TLS) needs a TLS context")
        await self.bind(
            name, host, port, lambda: _Connection(self, kind),
            tls=ctx.ssl_context if implicit else None, shared=shared,
        )


async def start_smtp(
    *,
    settings: SmtpSettings,
    services: SmtpServices,
    hostname: str,
    listeners: Mapping[str, tuple[str, int]],
    tls: ssl.SSLContext | None,
    shared: SharedListeners | None = None,
) -> SmtpServer:
    """Start the SMTP listeners named in ``listeners`` and return the running server.

    ``listeners`` uses the names of ``Settings.listeners`` (``smtp``, ``submission``,
    ``submissions``) mapped to ``(host, port)``, e.g. ``settings.listeners.enabled()``; other
    names are ignored. ``tls`` enables STARTTLS; without it ``submissions`` (implicit TLS) is
    skipped with a warning. Stop with ``close()`` + ``await wait_closed()`` (or ``aclose``).
    ``shared``: listening sockets bound by the primary, used instead of binding
    (``[server] workers`` > 1: every process accepts from the primary's, ``core.listen``).
    """
    server = SmtpServer(settings=settings, services=services, hostname=hostname, ssl_context=tls)
    try:
        for name, (host, port) in listeners.items():
            if name not in LISTENER_NAMES:
                continue
            if LISTENER_NAMES[name] is Listener.SUBMISSIONS and tls is None:
                log.warning("smtp %s skipped: no TLS certificate configured", name)
                continue
            await server.listen(name, host, port, shared=shared)
    except BaseException:
        await server.aclose(grace=0)
        raise
    return server
