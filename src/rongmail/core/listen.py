"""Listening sockets shared by the serving processes of one node (``[server] workers`` > 1).

The primary binds every SMTP, IMAP and POP3 listening socket once (:meth:`SharedListeners.bind`)
and hands the same sockets to each worker process it starts (``core.procs.Supervisor``: the
descriptors are inherited and named in the environment, :meth:`SharedListeners.child_env`,
read back by :meth:`SharedListeners.inherited`). Every process accepts from the same kernel
queue, and takes a connection only when it is not carrying more than its share
(:class:`LoadBoard`).

Why not ``SO_REUSEPORT`` (one queue per process, the kernel choosing by a hash of the client's
address and port): the hash spreads connections by count whatever each process is doing. A
process that is stalled or stopped still gets its share of new connections, which wait in its
queue while the other process idles; and long-lived IMAP sessions land where the hash put them
(``bench/imap_mixed.py``, two processes, 20 clients: one process did 2.6 times the other's
writes). Why not one shared queue alone: whoever calls ``accept`` first wins, and that is the
*busy* process, whose event loop polls its sockets without sleeping, while an idle one first
has to be woken (measured: 82 % of the same run's writes in one process). Hence the board:
each process counts its open connections in a shared array, and a process holding at least
:data:`SLACK` more than the least loaded one leaves a ready connection to the others for up to
:data:`MAX_DEFER` seconds (re-checking every :data:`DEFER_POLL`), then takes it anyway, and
every other one for the next :data:`STALE_PEERS` seconds: a stalled or stopped process delays
one new connection by at most :data:`MAX_DEFER` per :data:`STALE_PEERS` and holds none.

This is the model of Postfix's and Dovecot's ``master``, whose service processes share the
listening sockets the master opened.

Invariants: the sockets and the board are created in the primary before any worker starts;
the sockets are listening and non-blocking; a worker's board slot is :data:`RETIRED` until the
worker maps the board and from its death until its restart does (a restarted worker inherits
the same sockets); every address a host name resolves to gets its own socket, IPv6 ones
IPv6-only, as ``asyncio``'s ``create_server`` would bind them. A connection counts on the
board from ``accept`` until its protocol's ``connection_lost``.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import select
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["BACKLOG", "ENV", "LoadBoard", "SharedListeners", "SharedServer"]

#: the environment variable naming the inherited descriptors (see ``child_env``)
ENV = "RONGMAIL_LISTEN_FDS"
#: listen(2) backlog, as asyncio's default
BACKLOG = 100
#: leave a ready connection to a process with at least this many fewer open connections
SLACK = 2
#: ... but for at most this long (seconds): then take it (that process may be stalled)
MAX_DEFER = 0.02
#: after a deferral ran out, take connections without looking at the board for this long
#: (seconds): a stalled process must not hold every new connection for MAX_DEFER
STALE_PEERS = 0.5
#: how often a deferring process looks again (seconds)
DEFER_POLL = 0.002
#: at most this many connections taken per readiness event
ACCEPT_BATCH = 16

_SLOT = 8  # bytes per process on the board: a signed 64-bit count
#: the count of a process that does not serve: more than any process could hold
RETIRED = 1 << 62


class LoadBoard:
    """Open-connection counts of the serving processes, one slot each, in shared memory (an
    anonymous ``memfd`` the workers inherit). Slot 0 is the primary, slot *i* worker *i*.

    Plain aligned 8-byte loads and stores, no lock: a reader may see a count a moment old,
    which only makes one accept decision slightly off."""

    def __init__(self, fd: int, slots: int, slot: int) -> None:
        if not 0 <= slot < slots:
            raise ValueError(f"board slot {slot} outside 0..{slots - 1}")
        self.fd = fd
        self.slots = slots
        self.slot = slot
        self._map = mmap.mmap(fd, slots * _SLOT)
        self._counts = memoryview(self._map).cast("q")
        self._counts[slot] = 0  # this process serves from now on
        self._closed = False

    @classmethod
    def create(cls, slots: int) -> LoadBoard:
        """The primary's board: its own slot 0, the workers' slots :data:`RETIRED` until each
        worker maps the board (nobody leaves connections to a process that does not serve)."""
        fd = os.memfd_create("rongmail-load", 0)  # close-on-exec; pass_fds keeps it for workers
        os.ftruncate(fd, slots * _SLOT)
        board = cls(fd, slots, 0)
        for i in range(1, slots):
            board.retire(i)
        return board

    def retire(self, slot: int) -> None:
        """Mark a process that does not serve (not started yet, or dead until restarted):
        the others never defer to it."""
        if not self._closed:
            self._counts[slot] = RETIRED

    def add(self, delta: int) -> None:
        if not self._closed:  # connections may end after the board closed, at shutdown
            self._counts[self.slot] += delta

    def mine(self) -> int:
        return int(self._counts[self.slot])

    def should_defer(self) -> bool:
        """Whether another process holds at least :data:`SLACK` fewer connections."""
        if self._closed:
            return False
        counts = self._counts
        mine = counts[self.slot]
        return any(mine - counts[i] >= SLACK for i in range(self.slots) if i != self.slot)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._counts.release()
        self._map.close()
        os.close(self.fd)


class SharedServer:
    """Serves one shared listening socket on this process's event loop, taking a ready
    connection unless :meth:`LoadBoard.should_defer` says another process should (module doc).
    Has the ``close``/``wait_closed``/``sockets`` shape of an ``asyncio.Server``."""

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], asyncio.BaseProtocol],
        board: LoadBoard,
        *,
        ssl: ssl.SSLContext | None = None,
        ssl_handshake_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sockets = [sock]
        self._sock = sock
        self._factory = factory
        self._board = board
        self._ssl = ssl
        self._handshake = ssl_handshake_timeout
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._deferring_since: float | None = None
        self._stale_until = 0.0
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)
        self._resume: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._loop.add_reader(sock.fileno(), self._on_ready)

    def _on_ready(self) -> None:
        now = self._clock()
        balance = now >= self._stale_until
        if balance and self._board.should_defer():
            since = self._deferring_since
            if since is None or now - since < MAX_DEFER:
                if since is None:
                    self._deferring_since = now
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(DEFER_POLL, self._watch)
                return
            # nobody took it: the less loaded process is stalled or stopped (for now)
            self._stale_until = now + STALE_PEERS
            balance = False
        self._deferring_since = None
        for _ in range(ACCEPT_BATCH):  # a burst is taken a few at a time, as asyncio does
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing (left) to take: another process took it, or the client left
            except OSError as e:  # EMFILE and the like: back off, as asyncio's server does
                self._loop.call_exception_handler({"message": "accept failed", "exception": e})
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(1.0, self._watch)
                return
            conn.setblocking(False)
            self._board.add(1)
            task = self._loop.create_task(self._connect(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if balance and self._board.should_defer():
                return  # now over the others: leave the rest to them (or to the next call)

    def _watch(self) -> None:
        """Watch the socket again after a pause; a deferral whose connection another process
        took (nothing is pending now) is over."""
        self._resume = None
        if self._closed:
            return
        if not self._poll.poll(0):
            self._deferring_since = None
        self._loop.add_reader(self._sock.fileno(), self._on_ready)

    async def _connect(self, conn: socket.socket) -> None:
        counted = _Counted(self._board)

        def factory() -> asyncio.BaseProtocol:
            """The protocol, with its ``connection_lost`` taking the connection off the board."""
            protocol = self._factory()
            counted.lost = protocol.connection_lost
            protocol.connection_lost = counted  # type: ignore[method-assign]
            return protocol

        try:
            await self._loop.connect_accepted_socket(
                factory, conn, ssl=self._ssl, ssl_handshake_timeout=self._handshake)
        except Exception:  # a failed TLS handshake, a client that went away: not served
            counted.release()
            conn.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        self.close()
        await asyncio.sleep(0)


class _Counted:
    """A connection on the board: its protocol's ``connection_lost``, which takes it off the
    board (once) and then runs the protocol's own. One small object per open connection (it
    lives as long as the connection: closures and cells cost several times as much)."""

    __slots__ = ("_board", "lost")

    def __init__(self, board: LoadBoard) -> None:
        self._board: LoadBoard | None = board
        self.lost: Callable[[Exception | None], None] | None = None

    def release(self) -> None:
        board, self._board = self._board, None
        if board is not None:
            board.add(-1)

    def __call__(self, exc: Exception | None) -> None:
        self.release()
        # dropped once called: the protocol holds this object and this its bound method, a
        # reference cycle that would otherwise wait for a full garbage collection
        lost, self.lost = self.lost, None
        if lost is not None:
            lost(exc)


class SharedListeners:
    """This process's shared listening sockets (by listener name) and the load board."""

    def __init__(self, sockets: dict[str, list[socket.socket]], board: LoadBoard) -> None:
        self.sockets = sockets
        self.board = board

    @classmethod
    def bind(cls, addresses: Mapping[str, tuple[str, int]], processes: int,
             *, backlog: int = BACKLOG) -> SharedListeners:
        """Bind every listener of ``addresses`` (name -> host, port) for ``processes``
        serving processes (the primary's side)."""
        out: dict[str, list[socket.socket]] = {}
        try:
            for name, (host, port) in addresses.items():
                out[name] = bind(host, port, backlog=backlog)
        except BaseException:
            _close_all(out)
            raise
        return cls(out, LoadBoard.create(processes))

    def child_env(self, index: int) -> tuple[dict[str, str], list[int]]:
        """The environment entry and the descriptors to pass to worker ``index``."""
        names = ",".join(f"{name}={'+'.join(str(s.fileno()) for s in socks)}"
                         for name, socks in self.sockets.items() if socks)  # fmt: skip
        value = f"{self.board.fd}:{self.board.slots}:{index};{names}"
        fds = [self.board.fd, *(s.fileno() for socks in self.sockets.values() for s in socks)]
        return {ENV: value}, fds

    @classmethod
    def inherited(cls, environ: Mapping[str, str]) -> SharedListeners | None:
        """What a worker inherited (``None``: nothing named). Raises :class:`ValueError` for a
        malformed value or a descriptor that is not a listening stream socket: a worker must
        not start serving on something else."""
        value = environ.get(ENV, "")
        if not value:
            return None
        board_part, sep, names = value.partition(";")
        fields = board_part.split(":")
        if not sep or len(fields) != 3 or not all(f.isdigit() for f in fields):
            raise ValueError(f"{ENV}: malformed value {value!r}")
        fd, slots, slot = (int(f) for f in fields)
        out: dict[str, list[socket.socket]] = {}
        for item in filter(None, names.split(",")):
            name, sep, fds = item.partition("=")
            if not sep or not name or not fds:
                raise ValueError(f"{ENV}: malformed entry {item!r}")
            out[name] = [_listening(fd_text, name) for fd_text in fds.split("+")]
        return cls(out, LoadBoard(fd, slots, slot))

    async def serve(self, name: str, factory: Callable[[], asyncio.BaseProtocol], *,
                    ssl: ssl.SSLContext | None = None,
                    ssl_handshake_timeout: float | None = None) -> list[SharedServer]:
        """Serve ``factory`` on the sockets of listener ``name`` (none: an empty list)."""
        return [SharedServer(sock, factory, self.board, ssl=ssl,
                             ssl_handshake_timeout=ssl_handshake_timeout)
                for sock in self.sockets.get(name, ())]  # fmt: skip

    def close(self) -> None:
        _close_all(self.sockets)
        self.board.close()


def bind(host: str, port: int, *, backlog: int = BACKLOG) -> list[socket.socket]:
    """Listening sockets for ``host:port``: one per address ``host`` resolves to (every
    interface for ``""``), each non-blocking with ``SO_REUSEADDR``."""
    infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                               0, socket.AI_PASSIVE)  # fmt: skip
    out: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, addr in infos:
            if (family, addr) in seen:
                continue
            seen.add((family, addr))
            sock = socket.socket(family, kind, proto)
            out.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        _close_all({"": out})
        raise
    return out


def _listening(fd_text: str, name: str) -> socket.socket:
    if not fd_text.isdigit():
        raise ValueError(f"{ENV}: bad descriptor {fd_text!r} for {name}")
    sock = socket.socket(fileno=int(fd_text))
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ValueError(f"{ENV}: descriptor {fd_text} of {name} is not a listening socket")
    sock.setblocking(False)
    return sock


def _close_all(sockets: Mapping[str, Sequence[socket.socket]]) -> None:
    for socks in sockets.values():
        for sock in socks:
            sock.close()
