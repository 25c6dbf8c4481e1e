"""Listener plumbing shared by the ``asyncio.Protocol`` shells of SMTP and POP3.

Role: what both servers do the same way below their sessions: count connections at accept
(:class:`ConnectionLimits`), buffer the bytes of one socket with flow control in both
directions and upgrade it to TLS in place (:class:`BufferedConnection`), and start, address
and stop a group of listening sockets (:class:`ListenerGroup`). Everything that differs per
protocol stays in the protocol's ``server.py``: the reply on refusal, timeout and shutdown,
what a "client" is for the per-IP limit, the read deadlines, the session and its greeting.

Invariants:

* Admission is counted per process: a connection counts from :meth:`ConnectionLimits.admit`
  to its :meth:`~ConnectionLimits.release`, which the connection task calls exactly once,
  however the connection ends; a refused connection is never counted.
* Reading pauses while more than :data:`HIGH_WATER` octets wait unread, and resumes when the
  buffer is taken, so a fast sender cannot grow our buffers.
* :meth:`BufferedConnection.start_tls` clears the local buffer and enters ``loop.start_tls``
  without yielding to the loop, and clears it again after the handshake: plaintext pipelined
  before the upgrade is never read as if it came over TLS (CVE-2011-0411 class of bugs).
* No text reaches a client from here; replies and their wording belong to the protocols.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, cast

if TYPE_CHECKING:
    from rongmail.config.pop3 import Pop3Settings
    from rongmail.config.smtp import SmtpSettings
    from rongmail.core.listen import SharedListeners, SharedServer

__all__ = ["HIGH_WATER", "BufferedConnection", "ConnectionLimits", "ListenerGroup"]

#: Reading pauses while more than this many received octets wait to be processed.
HIGH_WATER = 256 * 1024


#: The settings a listener group reads: ``max_connections``, ``max_connections_per_ip`` and
#: ``tls_handshake_timeout``.
LimitSettings: TypeAlias = "SmtpSettings | Pop3Settings"


def _same(ip: str) -> str:
    return ip


class ConnectionLimits:
    """``max_connections`` overall and ``max_connections_per_ip`` per client, where ``key``
    maps an address to its client (the address itself unless a protocol says otherwise)."""

    def __init__(self, settings: LimitSettings, key: Callable[[str], str] = _same) -> None:
        self._settings = settings
        self._key = key
        self._per_ip: Counter[str] = Counter()
        self.total = 0

    def admit(self, ip: str) -> bool:
        s = self._settings
        key = self._key(ip)
        if self.total >= s.max_connections or self._per_ip[key] >= s.max_connections_per_ip:
            return False
        self.total += 1
        self._per_ip[key] += 1
        return True

    def release(self, ip: str) -> None:
        key = self._key(ip)
        self.total -= 1
        self._per_ip[key] -= 1
        if self._per_ip[key] <= 0:
            del self._per_ip[key]


class BufferedConnection(asyncio.Protocol, ABC):
    """One accepted socket: received bytes collect in a buffer that :meth:`take` empties,
    writes wait for the transport to drain, and :meth:`serve` runs as the connection's task.
    It logs to its group's logger, each line starting with the group's protocol name."""

    def __init__(self, group: ListenerGroup) -> None:
        self._group = group
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        #: the read that waits (:meth:`wait_data`), resolved by bytes, EOF, loss or a wake
        self._waiter: asyncio.Future[None] | None = None
        #: the connection's one read timer and the waiting read's deadline (loop time)
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._eof = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._ip = ""
        self.task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        self._ip = str(peer[0])
        self.task = asyncio.get_running_loop().create_task(self._run(peer, self._transport))
        self._group.connections.add(self)
        self.task.add_done_callback(lambda _: self._group.connections.discard(self))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._wake_reader()
        if len(self._buf) > HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake_reader()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def wake(self) -> None:
        """Wake a waiting reader (at shutdown, so it can answer and close)."""
        self._wake_reader()

    def _wake_reader(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def wait_data(self, timeout: float) -> None:
        """Wait until bytes arrive, the peer closes or :meth:`wake` is called; TimeoutError
        after ``timeout`` seconds. Returns at once when bytes are buffered or EOF was seen.

        One timer per connection, not one per read (a read costs a future, not a timer
        schedule and cancel): the timer fires at the earliest deadline it was armed for and,
        if the waiting read's deadline has moved on since, re-arms itself there. Invariant:
        while a read waits, a timer is scheduled no later than its deadline."""
        if self._buf or self._eof:
            return
        loop = asyncio.get_running_loop()
        self._deadline = deadline = loop.time() + timeout
        timer = self._timer
        if timer is not None and timer.when() > deadline:
            timer.cancel()
            timer = None
        if timer is None:
            self._timer = loop.call_at(deadline, self._on_timer)
        self._waiter = waiter = loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _on_timer(self) -> None:
        self._timer = None
        w = self._waiter
        if w is None or w.done():
            return  # no read waits: the next one arms a timer
        loop = w.get_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._on_timer)
            return
        w.set_exception(TimeoutError())

    # -- the connection --------------------------------------------------------------------

    def take(self) -> bytes:
        """Everything received so far (the buffer is emptied); resumes a paused reader."""
        out = bytes(self._buf)
        self._buf.clear()
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return out

    async def send(self, data: bytes, drain_timeout: float | None = None) -> None:
        """Write ``data`` and wait until the transport can take more (at most
        ``drain_timeout`` seconds, then TimeoutError); nothing once the transport closes."""
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(data)
        if self._can_write.is_set():  # the usual case: no timeout context, no wait
            return
        async with asyncio.timeout(drain_timeout):
            await self._can_write.wait()

    async def start_tls(self, context: ssl.SSLContext | None, handshake_timeout: float,
                        command: str, reply: bytes = b"") -> bool:
        """Upgrade in place: clear the buffer, write ``reply`` (the go-ahead, if not sent yet)
        and enter the handshake with no await in between; False (logged with ``command``)
        when there is no context or the handshake fails."""
        transport = self._transport
        if transport is None or context is None:
            return False
        self._buf.clear()
        if reply:
            transport.write(reply)
        try:
            new = await asyncio.get_running_loop().start_tls(
                transport, self, context, server_side=True,
                ssl_handshake_timeout=handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as e:
            group = self._group
            group.log.info("%s %s %s handshake failed: %s", group.protocol, self._ip, command, e)
            return False
        if new is None:
            return False
        self._transport = new
        self._buf.clear()
        return True

    async def _run(self, peer: tuple[object, ...], transport: asyncio.Transport) -> None:
        group = self._group
        admitted = group.limits.admit(self._ip)
        try:
            if not admitted:
                await self.refuse()
                return
            await self.serve(peer, transport)
        except (ConnectionError, ssl.SSLError) as e:
            group.log.debug("%s %s connection error: %s", group.protocol, self._ip, e)
        except Exception:
            group.log.exception("%s %s: unexpected error", group.protocol, self._ip)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if admitted:
                group.limits.release(self._ip)
            if self._transport is not None:
                self._transport.close()

    @abstractmethod
    async def refuse(self) -> None:
        """Say why a connection over the limits is not served (it is closed after)."""

    @abstractmethod
    async def serve(self, peer: tuple[object, ...], transport: asyncio.Transport) -> None:
        """Run the session of an admitted connection; ends its own session however it ends."""


class ListenerGroup:
    """The listening sockets of one protocol on one node, and their open connections;
    ``client_key`` says what one client is for ``max_connections_per_ip``."""

    def __init__(self, settings: LimitSettings, *, log: logging.Logger, protocol: str,
                 client_key: Callable[[str], str] = _same) -> None:
        self._settings = settings
        self.limits = ConnectionLimits(settings, client_key)
        self.log = log
        self.protocol = protocol
        self.servers: dict[str, list[asyncio.Server | SharedServer]] = {}
        self.connections: set[BufferedConnection] = set()
        self.closing = asyncio.Event()
        self._close_task: asyncio.Future[None] | None = None

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        """Bound (host, port) per listener name; useful with port 0."""
        out: dict[str, tuple[str, int]] = {}
        for name, servers in self.servers.items():
            sock = servers[0].sockets[0].getsockname()
            out[name] = (str(sock[0]), int(sock[1]))
        return out

    @property
    def active_connections(self) -> int:
        return self.limits.total

    async def bind(self, name: str, host: str, port: int,
                   connection: Callable[[], BufferedConnection], *,
                   tls: ssl.SSLContext | None, shared: SharedListeners | None = None) -> None:
        """Listen as ``name`` on ``host:port``, or on the listening sockets ``shared`` holds
        for ``name`` (bound by the primary, shared by every serving process: ``core.listen``);
        ``tls`` given means implicit TLS (RFC 8314)."""
        handshake = self._settings.tls_handshake_timeout if tls else None
        if shared is not None and name in shared.sockets:
            self.servers[name] = list(await shared.serve(
                name, connection, ssl=tls, ssl_handshake_timeout=handshake))
        else:
            self.servers[name] = [await asyncio.get_running_loop().create_server(
                connection, host, port, ssl=tls, ssl_handshake_timeout=handshake,
                reuse_address=True)]
        self.log.info("%s %s listening on %s:%s", self.protocol, name, host, port)

    # the close()/wait_closed() shape App.close() expects of every listener
    def close(self) -> None:
        """Begin shutting down (``asyncio.Server`` style); see ``aclose``."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self.aclose())

    async def wait_closed(self) -> None:
        self.close()
        if self._close_task is not None:
            await self._close_task

    async def aclose(self, *, grace: float = 10.0) -> None:
        """Stop accepting, wake every waiting reader (the protocol answers and closes), give
        the connections ``grace`` seconds to end, then cancel the rest."""
        for servers in self.servers.values():
            for srv in servers:
                srv.close()
        self.closing.set()
        tasks = {c.task for c in self.connections if c.task is not None}
        for conn in list(self.connections):
            conn.wake()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        for servers in self.servers.values():
            for srv in servers:
                await srv.wait_closed()
