"""Hypothesis fuzzing of whole POP3 sessions over a real socket (issue 4, item 5).

A server on a real SQLite store runs on its own event loop thread. Each example connects,
sometimes logs in, sends a random stream of commands and fragments (valid verbs with odd
arguments, SASL exchanges, raw bytes), then half-closes. Properties: the server closes the
connection within a bound (no hang), every reply line is ASCII, it never logs an error, and it
keeps serving: the maildrop lock is free again and a new login works.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.pop3.pop3_helpers import PASSWORD, USER, Pop3Stack, message


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pop3Stack, _Errors]]:
    stack = Pop3Stack(tmp_path_factory.mktemp("pop3fuzz"), allow_plaintext_auth=True,
                      max_errors=10_000, max_auth_failures=10_000, max_line_length=512)
    errors = _Errors()
    logger = logging.getLogger("rongmail.pop3")
    logger.addHandler(errors)
    try:
        yield stack, errors
    finally:
        logger.removeHandler(errors)
        stack.stop()


VERBS = ["USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "STAT", "LIST", "RETR", "TOP",
         "UIDL", "DELE", "NOOP", "RSET", "QUIT", "XTND"]
args = st.one_of(
    st.integers(min_value=-2, max_value=12).map(str),
    st.sampled_from(["PLAIN", "LOGIN", "=", "*", "AHUAcA==", "0", "99999999999", USER]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.text(max_size=6),
)
commands = st.builds(
    lambda verb, a: " ".join([verb, *a]).encode("utf-8", "surrogatepass") + b"\r\n",
    st.sampled_from(VERBS),
    st.lists(args, max_size=3),
)
fragments = st.one_of(
    commands,
    commands,
    st.binary(max_size=40),
    st.sampled_from([b"\r\n", b"\n", b"*\r\n", b"x" * 600 + b"\r\n", b".\r\n"]),
)
LOGIN = f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode()


def read_all(sock: socket.socket, deadline: float) -> bytes:
    out = bytearray()
    while True:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"server did not close the connection; last output {bytes(out[-200:])!r}")
        except ConnectionResetError:
            # the server closed (QUIT, error cap) with our later bytes unread: TCP sends RST
            return bytes(out)
        if not data:
            return bytes(out)
        out += data


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(login=st.booleans(), stream=st.lists(fragments, max_size=25))
def test_random_sessions(server: tuple[Pop3Stack, _Errors], login: bool,
                         stream: list[bytes]) -> None:
    stack, errors = server
    if len(stack.inbox_uids()) < 3:
        for i in range(3):
            stack.deliver(message(f"fuzz {i}", ".dot\r\n" * i))
    with socket.create_connection(("127.0.0.1", stack.ports.pop3), timeout=10) as sock:
        with contextlib.suppress(OSError):  # the server may have closed already (QUIT)
            sock.sendall((LOGIN if login else b"") + b"".join(stream))
            sock.shutdown(socket.SHUT_WR)
        out = read_all(sock, time.monotonic() + 20)
    assert b"+OK mail.demo.test".startswith(out[:18])
    assert out.isascii()
    assert not errors.records, [r.getMessage() for r in errors.records]
    # the session is gone and its lock released: a new login succeeds
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", stack.ports.pop3), timeout=10) as sock:
            sock.sendall(LOGIN + b"QUIT\r\n")
            sock.shutdown(socket.SHUT_WR)
            reply = read_all(sock, time.monotonic() + 10)
        if b"Logged in" in reply:
            return
        assert b"[IN-USE]" in reply, reply
        time.sleep(0.02)
    pytest.fail("the maildrop lock was never released")
