"""POP3 limits and bad input on the wire: line length, pipelining (RFC 2449 §6.6), error and
command caps, connections per IP, the idle timeout, STLS command injection (RFC 2595 §4) and
shutdown.
"""

from __future__ import annotations

import poplib
import time
from collections.abc import Callable

from pop3_helpers import PASSWORD, USER, Pop3Stack, Wire, message

Factory = Callable[..., Pop3Stack]


def test_pipelined_commands_answered_in_order(pop3_plain: Pop3Stack) -> None:
    for i in range(3):
        pop3_plain.deliver(message(f"m{i}"))
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nRETR 2\r\nDELE 1\r\n"
           "UIDL 3\r\nXYZW\r\nQUIT\r\n".encode())
    assert w.line().startswith(b"+OK Send")
    assert w.line().startswith(b"+OK Logged in, 3 messages")
    assert w.line().startswith(b"+OK 3 ")
    assert w.line().startswith(b"+OK 3 messages")
    assert len(w.multi()) == 3
    assert w.line().endswith(b" octets")
    assert b"Subject: m1" in w.multi()
    assert w.line() == b"+OK Message 1 deleted"
    assert w.line().startswith(b"+OK 3 ")
    assert w.line() == b"-ERR Unknown command"
    assert w.line().startswith(b"+OK mail.demo.test signing off, 1 messages deleted")
    assert w.closed()


def test_long_line_rejected_and_session_continues(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.send(b"USER " + b"x" * 20_000 + b"\r\n")
    assert w.line() == b"-ERR Line too long"
    assert w.cmd("CAPA").startswith(b"+OK")
    assert w.multi()
    w.close()


def test_binary_garbage(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("\x00\x01") == b"-ERR Syntax error"
    w.send(b"USER \xff\xfe\r\n")
    assert w.line() == b"-ERR Syntax error"
    assert w.cmd("") == b"-ERR Syntax error"
    assert w.cmd("NOOP").startswith(b"-ERR")  # still alive, still AUTHORIZATION
    w.close()


def test_too_many_errors_close(pop3_factory: Factory) -> None:
    stack = pop3_factory(max_errors=3)
    w = Wire(stack.ports.pop3)
    w.line()
    w.send(b"A\r\nB\r\nC\r\nD\r\n")
    assert [w.line() for _ in range(3)] == [b"-ERR Syntax error"] * 3
    assert w.line() == b"-ERR Too many invalid commands, closing connection"
    assert w.closed()


def test_command_cap(pop3_factory: Factory) -> None:
    stack = pop3_factory(max_commands=100)
    w = Wire(stack.ports.pop3)
    w.line()
    w.send(b"CAPA\r\n" * 101)
    for _ in range(100):
        assert w.line().startswith(b"+OK")
        w.multi()
    assert w.line() == b"-ERR Too many commands, closing connection"
    assert w.closed()


def test_connections_per_ip(pop3_factory: Factory) -> None:
    stack = pop3_factory(max_connections_per_ip=2)
    a, b = Wire(stack.ports.pop3), Wire(stack.ports.pop3)
    assert a.line().startswith(b"+OK") and b.line().startswith(b"+OK")
    c = Wire(stack.ports.pop3)
    assert c.line() == b"-ERR [SYS/TEMP] Too many connections, try again later"
    assert c.closed()
    a.cmd("QUIT")
    for _ in range(50):
        d = Wire(stack.ports.pop3)
        if d.line().startswith(b"+OK"):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("slot never freed")
    b.close()
    d.close()


def test_idle_timeout(pop3_factory: Factory) -> None:
    stack = pop3_factory(idle_timeout=0.3)
    w = Wire(stack.ports.pop3)
    w.line()
    assert w.line() == b"-ERR Idle for too long, closing connection"
    assert w.closed()


def test_stls_drops_pipelined_plaintext(pop3: Pop3Stack) -> None:
    w = Wire(pop3.ports.pop3)
    w.line()
    # an attacker in the middle appends a command after STLS (CVE-2011-0411 class)
    w.send(b"STLS\r\nCAPA\r\n")
    assert w.line() == b"+OK Begin TLS negotiation"
    w.upgrade(pop3.client_tls())
    assert w.cmd("NOOP") == b"-ERR Command not valid in this state"  # the first reply after TLS
    w.close()


def test_shutdown_says_goodbye(pop3_factory: Factory) -> None:
    stack = pop3_factory()
    w = Wire(stack.ports.pop3)
    w.line()
    stack.run(stack.server.aclose(grace=2))
    assert w.line() == b"-ERR [SYS/TEMP] Server shutting down"
    assert w.closed()
    stack.run(stack.server.aclose(grace=0))


def test_poplib_rejects_nothing_it_sends(pop3_plain: Pop3Stack) -> None:
    """poplib's own commands all succeed (a smoke test of the whole family)."""
    pop3_plain.deliver(message("x"))
    client = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    client.user(USER)
    client.pass_(PASSWORD)
    client.stat()
    client.list()
    client.uidl()
    client.top(1, 1)
    client.retr(1)
    client.noop()
    client.rset()
    client.quit()
