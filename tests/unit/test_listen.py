"""``core.listen``: the load board shared by serving processes, and the accept decision of a
shared listening socket (real loopback sockets, one process; the cross-process behaviour is
in ``tests/e2e/test_serve_workers.py``)."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time

import pytest

from rongmail.core import listen
from rongmail.core.listen import LoadBoard, SharedListeners, SharedServer


def unmap(board: LoadBoard) -> None:
    """Drop a second mapping of a board whose descriptor another object in this process owns."""
    board._counts.release()
    board._map.close()


def test_board_is_shared_through_its_descriptor() -> None:
    primary = LoadBoard.create(3)
    worker: LoadBoard | None = None
    try:
        primary.add(listen.SLACK + 3)
        assert not primary.should_defer(), "no worker serves yet: nobody to leave them to"
        worker = LoadBoard(primary.fd, 3, 2)  # worker 2 maps the inherited descriptor
        assert primary.should_defer(), "worker 2 serves now, holding none"
        worker.add(listen.SLACK + 10)
        assert (primary.mine(), worker.mine()) == (listen.SLACK + 3, listen.SLACK + 10)
        assert worker.should_defer() and not primary.should_defer()  # worker 1 never started
        primary.retire(2)  # worker 2 died
        assert not primary.should_defer()
        with pytest.raises(ValueError):
            LoadBoard(primary.fd, 3, 3)
    finally:
        if worker is not None:
            unmap(worker)
        primary.close()
    primary.add(1)  # a connection ending after shutdown does not fail
    assert not primary.should_defer()


class _Board(LoadBoard):
    """A one-process board whose verdict the test sets."""

    def __init__(self, defer: bool) -> None:
        fd = os.memfd_create("test-board", 0)
        os.ftruncate(fd, 16)
        super().__init__(fd, 2, 0)
        self.defer = defer

    def should_defer(self) -> bool:
        return self.defer


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"hi\n")

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def _greeting(port: int, timeout: float = 2.0) -> tuple[bytes, float, socket.socket]:
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    client = socket.create_connection(("127.0.0.1", port))
    client.setblocking(False)
    data = await asyncio.wait_for(loop.sock_recv(client, 16), timeout)
    return data, time.monotonic() - t0, client


async def _wait_for(cond, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_takes_a_connection_and_counts_it_until_it_ends() -> None:
    (sock,) = listen.bind("127.0.0.1", 0)
    board = _Board(defer=False)
    server = SharedServer(sock, _Echo, board)
    try:
        data, took, client = await _greeting(sock.getsockname()[1])
        assert data == b"hi\n" and took < 0.5
        assert board.mine() == 1
        client.close()
        await _wait_for(lambda: board.mine() == 0)
    finally:
        await server.wait_closed()
        board.close()


async def test_a_burst_is_taken_until_the_process_is_over_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a real board of two processes, the other holding none: this one takes connections
    of a burst while it holds fewer than SLACK more, then leaves the rest waiting (for the other
    process) until MAX_DEFER has passed; then it takes the rest at once (the other process is
    taken for stalled for STALE_PEERS)."""
    monkeypatch.setattr(listen, "MAX_DEFER", 0.5)  # long enough to look at the board
    (sock,) = listen.bind("127.0.0.1", 0)
    board = LoadBoard.create(2)
    other = LoadBoard(board.fd, 2, 1)  # the other process serves, holding none
    server = SharedServer(sock, _Echo, board)
    clients = [socket.create_connection(("127.0.0.1", sock.getsockname()[1])) for _ in range(6)]
    try:
        await asyncio.sleep(0.1)
        assert board.mine() == listen.SLACK
        t0 = time.monotonic()
        await _wait_for(lambda: board.mine() == 6)  # nobody else took them: all served
        assert time.monotonic() - t0 < 0.9, "the rest waited a deferral each"
    finally:
        for c in clients:
            c.close()
        await server.wait_closed()
        unmap(other)
        board.close()


async def test_a_loaded_process_leaves_a_connection_then_takes_it_after_max_defer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No other process takes it (as when the less loaded one is stopped): it waits at least
    MAX_DEFER, then this process serves it, and those that follow within STALE_PEERS at once;
    after that it defers again."""
    monkeypatch.setattr(listen, "STALE_PEERS", 0.3)
    (sock,) = listen.bind("127.0.0.1", 0)
    board = _Board(defer=True)
    server = SharedServer(sock, _Echo, board)
    port = sock.getsockname()[1]
    try:
        data, took, client = await _greeting(port)
        assert data == b"hi\n"
        assert listen.MAX_DEFER <= took < 1.0
        client.close()
        data, took, client = await _greeting(port)
        assert took < listen.MAX_DEFER, "within STALE_PEERS: taken at once"
        client.close()
        await asyncio.sleep(0.4)
        data, took, client = await _greeting(port)
        assert listen.MAX_DEFER <= took < 1.0, "after STALE_PEERS: deferred again"
        client.close()
    finally:
        await server.wait_closed()
        board.close()


async def test_a_failed_tls_handshake_is_not_counted() -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no certificate: handshakes fail
    (sock,) = listen.bind("127.0.0.1", 0)
    board = _Board(defer=False)
    server = SharedServer(sock, _Echo, board, ssl=ctx, ssl_handshake_timeout=2)
    try:
        client = socket.create_connection(("127.0.0.1", sock.getsockname()[1]))
        client.sendall(b"\x16\x03\x01\x00\x05garbage")
        await _wait_for(lambda: board.mine() == 0)
        await asyncio.sleep(0.05)
        assert board.mine() == 0
        client.close()
    finally:
        await server.wait_closed()
        board.close()


def test_inherited_rejects_what_is_not_a_listening_socket() -> None:
    shared = SharedListeners.bind({"smtp": ("127.0.0.1", 0)}, 2)
    plain = socket.socket()
    try:
        env, fds = shared.child_env(1)
        value = env[listen.ENV]
        assert shared.board.fd in fds and shared.sockets["smtp"][0].fileno() in fds
        got = SharedListeners.inherited({listen.ENV: value})
        assert got is not None and got.board.slot == 1
        assert got.sockets["smtp"][0].getsockname() == shared.sockets["smtp"][0].getsockname()
        got.sockets["smtp"][0].detach()  # same descriptor as ``shared``'s in this one process
        unmap(got.board)
        for bad in ("x", f"{shared.board.fd}:2:1;smtp=", f"{shared.board.fd}:2:1;smtp=abc",
                    f"{shared.board.fd}:2:1;smtp={plain.fileno()}"):
            with pytest.raises(ValueError):
                SharedListeners.inherited({listen.ENV: bad})
        assert SharedListeners.inherited({}) is None
    finally:
        plain.close()
        shared.close()
