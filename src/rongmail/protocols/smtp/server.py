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
``_HIGH_WATER`` unprocessed octets, so a fast sender cannot grow our buffers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Client, Listener
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.session import Session, SmtpServices

log = logging.getLogger(__name__)

_HIGH_WATER = 256 * 1024
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


class _Connection(asyncio.Protocol):
    def __init__(self, server: SmtpServer, listener: Listener) -> None:
        self._server = server
        self._listener = listener
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._data = asyncio.Event()
        self._eof = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._ip = ""
        self._task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        self._ip = str(peer[0])
        self._task = asyncio.get_running_loop().create_task(self._run(peer, self._transport))
        self._server._connections.add(self)
        self._task.add_done_callback(lambda _: self._server._connections.discard(self))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._data.set()
        if len(self._buf) > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._data.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._data.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # -- the connection --------------------------------------------------------------------

    async def _read(self, deadline: float) -> bytes | None:
        idle = self._server._ctx.settings.idle_timeout
        if time.monotonic() >= deadline:  # also for a client that never lets the buffer drain
            raise _SessionTooLong
        while not self._buf:
            if self._eof:
                return None
            if self._server._closing.is_set():
                raise _ShuttingDown
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _SessionTooLong
            self._data.clear()
            try:
                async with asyncio.timeout(min(idle, remaining)):
                    await self._data.wait()
            except TimeoutError:
                if remaining <= idle:
                    raise _SessionTooLong from None
                raise
        out = bytes(self._buf)
        self._buf.clear()
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return out

    async def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(data)
        await self._can_write.wait()

    async def _run(self, peer: tuple[object, ...], transport: asyncio.Transport) -> None:
        server = self._server
        ctx = server._ctx
        admitted = server._admit(self._ip)
        session: Session | None = None
        try:
            if not admitted:
                await self._write(
                    codes.R421_TOO_MANY_CONNECTIONS.format(hostname=ctx.hostname).encode()
                )
                return
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
            await self._write(out.data)
            while not out.close:
                data = await self._read(deadline)
                if data is None:
                    return
                out = await session.receive(data)
                if out.starttls:
                    if not await self._start_tls(out.data):
                        return
                    session.tls_started(**self._tls_version(self._transport))
                    continue
                if out.data:
                    await self._write(out.data)
        except TimeoutError:
            await self._say(session, codes.R421_TIMEOUT)
        except _SessionTooLong:
            await self._say(session, codes.R421_SESSION_TOO_LONG)
        except _ShuttingDown:
            await self._say(session, codes.R421_SHUTTING_DOWN)
        except (ConnectionError, ssl.SSLError) as e:
            log.debug("smtp %s connection error: %s", self._ip, e)
        except Exception:
            log.exception("smtp %s: unexpected error", self._ip)
        finally:
            if admitted:
                server._release(self._ip)
            if self._transport is not None:
                self._transport.close()

    async def _say(self, session: Session | None, reply: codes.Reply) -> None:
        hostname = self._server._ctx.hostname
        data = session.shutdown(reply) if session else reply.format(hostname=hostname).encode()
        try:
            await self._write(data)
        except (ConnectionError, ssl.SSLError):
            pass

    async def _start_tls(self, reply: bytes) -> bool:
        """Write the 220 and enter TLS with no await in between; drop plaintext leftovers."""
        ctx = self._server._ctx
        transport = self._transport
        if transport is None or ctx.ssl_context is None:
            return False
        self._buf.clear()
        transport.write(reply)
        try:
            new = await asyncio.get_running_loop().start_tls(
                transport,
                self,
                ctx.ssl_context,
                server_side=True,
                ssl_handshake_timeout=ctx.settings.tls_handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as e:
            log.info("smtp %s STARTTLS handshake failed: %s", self._ip, e)
            return False
        if new is None:
            return False
        self._transport = new
        self._buf.clear()
        return True

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


class SmtpServer:
    """All SMTP listeners of one node. Build with :func:`start_smtp`."""

    def __init__(
        self,
        *,
        settings: SmtpSettings,
        services: SmtpServices,
        hostname: str,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._ctx = _Ctx(settings, services, hostname, ssl_context)
        self._servers: dict[str, asyncio.Server] = {}
        self._close_task: asyncio.Future[None] | None = None
        self._connections: set[_Connection] = set()
        self._closing = asyncio.Event()
        self._per_ip: Counter[str] = Counter()
        self._total = 0

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        """Bound (host, port) per listener name (``smtp``...); useful with port 0."""
        out: dict[str, tuple[str, int]] = {}
        for name, srv in self._servers.items():
            sock = srv.sockets[0].getsockname()
            out[name] = (str(sock[0]), int(sock[1]))
        return out

    @property
    def active_connections(self) -> int:
        return self._total

    def _admit(self, ip: str) -> bool:
        s = self._ctx.settings
        key = client_key(ip)
        if self._total >= s.max_connections or self._per_ip[key] >= s.max_connections_per_ip:
            return False
        self._total += 1
        self._per_ip[key] += 1
        return True

    def _release(self, ip: str) -> None:
        key = client_key(ip)
        self._total -= 1
        self._per_ip[key] -= 1
        if self._per_ip[key] <= 0:
            del self._per_ip[key]

    async def listen(self, name: str, host: str, port: int, *, reuse_port: bool = False) -> None:
        """Start listener ``name`` (a key of :data:`LISTENER_NAMES`) on ``host:port``;
        ``reuse_port`` (SO_REUSEPORT) lets several serving processes share the port."""
        ctx = self._ctx
        kind = LISTENER_NAMES[name]
        implicit = kind is Listener.SUBMISSIONS
        if implicit and ctx.ssl_context is None:
            raise ValueError("the submissions listener (implicit TLS) needs a TLS context")
        loop = asyncio.get_running_loop()
        self._servers[name] = await loop.create_server(
            lambda: _Connection(self, kind),
            host,
            port,
            ssl=ctx.ssl_context if implicit else None,
            ssl_handshake_timeout=ctx.settings.tls_handshake_timeout if implicit else None,
            reuse_address=True,
            reuse_port=reuse_port,
        )
        log.info("smtp %s listening on %s:%s", name, host, port)

    def close(self) -> None:
        """Begin shutting down (``asyncio.Server`` style); see :meth:`aclose`."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self.aclose())

    async def wait_closed(self) -> None:
        self.close()
        if self._close_task is not None:
            await self._close_task

    async def aclose(self, *, grace: float = 10.0) -> None:
        """Stop accepting; idle sessions get 421 4.3.2, in-flight deliveries may finish."""
        for srv in self._servers.values():
            srv.close()
        self._closing.set()
        tasks = {c._task for c in self._connections if c._task is not None}
        for conn in self._connections:
            conn._data.set()  # wake idle readers so they answer 421 and close
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        for srv in self._servers.values():
            await srv.wait_closed()


async def start_smtp(
    *,
    settings: SmtpSettings,
    services: SmtpServices,
    hostname: str,
    listeners: Mapping[str, tuple[str, int]],
    tls: ssl.SSLContext | None,
    reuse_port: bool = False,
) -> SmtpServer:
    """Start the SMTP listeners named in ``listeners`` and return the running server.

    ``listeners`` uses the names of ``Settings.listeners`` (``smtp``, ``submission``,
    ``submissions``) mapped to ``(host, port)``, e.g. ``settings.listeners.enabled()``; other
    names are ignored. ``tls`` enables STARTTLS; without it ``submissions`` (implicit TLS) is
    skipped with a warning. Stop with ``close()`` + ``await wait_closed()`` (or ``aclose``).
    ``reuse_port``: bind with SO_REUSEPORT (``[server] workers`` > 1 share the ports).
    """
    server = SmtpServer(settings=settings, services=services, hostname=hostname, ssl_context=tls)
    try:
        for name, (host, port) in listeners.items():
            if name not in LISTENER_NAMES:
                continue
            if LISTENER_NAMES[name] is Listener.SUBMISSIONS and tls is None:
                log.warning("smtp %s skipped: no TLS certificate configured", name)
                continue
            await server.listen(name, host, port, reuse_port=reuse_port)
    except BaseException:
        await server.aclose(grace=0)
        raise
    return server
