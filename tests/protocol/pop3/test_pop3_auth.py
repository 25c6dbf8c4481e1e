"""POP3 login transcripts: greeting, CAPA, STLS, USER/PASS, SASL PLAIN and LOGIN, [IN-USE].

RFC 1939 §4 and §7, RFC 2449 §5-§8, RFC 2595 §4, RFC 3206, RFC 5034 §4. Clients: Python's
``poplib`` where it can express the exchange, a raw socket otherwise.
"""

from __future__ import annotations

import base64
import poplib
from collections.abc import Callable

import pytest
from pop3_helpers import PASSWORD, PASSWORD2, USER, USER2, Pop3Stack, Wire, command, message

Factory = Callable[..., Pop3Stack]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_greeting_and_capa_before_tls(pop3: Pop3Stack) -> None:
    client = poplib.POP3("127.0.0.1", pop3.ports.pop3, timeout=10)
    try:
        assert client.getwelcome().startswith(b"+OK mail.demo.test RongMail POP3 ready")
        caps = client.capa()
        assert {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"} <= set(caps)
        # credentials are not offered in clear text (RFC 2595 §2.3)
        assert "USER" not in caps and "SASL" not in caps
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Plaintext"):
            client.user(USER)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
            command(client, "AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}".encode()))
    finally:
        client.quit()


def test_stls_then_user_pass(pop3: Pop3Stack) -> None:
    pop3.deliver(message("first"))
    client = poplib.POP3("127.0.0.1", pop3.ports.pop3, timeout=10)
    client.stls(pop3.client_tls())
    caps = client.capa()
    assert "STLS" not in caps
    assert caps["SASL"] == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"] and "USER" in caps
    assert client.user(USER) == b"+OK Send your password"
    assert client.pass_(PASSWORD).startswith(b"+OK Logged in, 1 messages")
    assert client.stat()[0] == 1
    client.quit()


def test_stls_twice_and_after_login(pop3: Pop3Stack) -> None:
    client = poplib.POP3("127.0.0.1", pop3.ports.pop3, timeout=10)
    client.stls(pop3.client_tls())
    with pytest.raises(poplib.error_proto, match="TLS is already active"):
        command(client, "STLS")
    client.quit()


def test_pop3s_implicit_tls(pop3: Pop3Stack) -> None:
    assert pop3.ports.pop3s is not None
    client = poplib.POP3_SSL("127.0.0.1", pop3.ports.pop3s, context=pop3.client_tls(),
                             timeout=10)
    assert "STLS" not in client.capa()
    client.user(USER)
    client.pass_(PASSWORD)
    assert client.stat() == (0, 0)
    client.quit()


def test_wrong_password_is_auth_code(pop3_plain: Pop3Stack) -> None:
    client = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    client.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        client.pass_("wrong")
    assert e.value.args[0] == b"-ERR [AUTH] Invalid user name or password"
    with pytest.raises(poplib.error_proto, match="Send USER first"):
        client.pass_(PASSWORD)
    client.user("nobody@demo.test")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Invalid user name or password"):
        client.pass_(PASSWORD)  # unknown users look the same
    client.quit()


def test_too_many_auth_failures_close(pop3_factory: Factory) -> None:
    stack = pop3_factory(allow_plaintext_auth=True, max_auth_failures=2)
    w = Wire(stack.ports.pop3)
    w.line()
    for _ in range(2):
        assert w.cmd(f"USER {USER}").startswith(b"+OK")
        assert w.cmd("PASS nope").startswith(b"-ERR [AUTH]")
    assert w.closed()


def test_password_with_spaces(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.cmd(f"USER {USER}")
    assert w.cmd(f"PASS {PASSWORD} ").startswith(b"-ERR [AUTH]")  # trailing space counts
    w.cmd(f"USER {USER}")
    assert w.cmd(f"PASS {PASSWORD}").startswith(b"+OK Logged in")
    w.close()


def test_sasl_plain_initial_response(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}".encode())).startswith(b"+OK Logged")
    assert w.cmd("QUIT").startswith(b"+OK")


def test_sasl_plain_without_initial_response_and_authzid(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("AUTH PLAIN") == b"+ "
    assert w.cmd(b64(f"{USER2}\0{USER}\0{PASSWORD}".encode())).startswith(b"-ERR [AUTH]")
    assert w.cmd("AUTH PLAIN") == b"+ "
    assert w.cmd(b64(f"{USER}\0{USER}\0{PASSWORD}".encode())).startswith(b"+OK Logged in")
    w.close()


def test_sasl_login_and_cancel(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("AUTH LOGIN") == b"+ " + b64(b"Username:").encode()
    assert w.cmd("*") == b"-ERR Authentication cancelled"
    assert w.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    assert w.cmd("not base64!") == b"-ERR Invalid base64 in authentication response"
    assert w.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    w.send(b"\xff\xfe\r\n")
    assert w.line() == b"-ERR Invalid base64 in authentication response"
    assert w.cmd("AUTH LOGIN " + b64(USER2.encode())) == b"+ " + b64(b"Password:").encode()
    assert w.cmd(b64(PASSWORD2.encode())).startswith(b"+OK Logged in")
    w.close()


def test_auth_lists_mechanisms_and_rejects_unknown(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("AUTH").startswith(b"+OK")
    assert w.multi() == [b"PLAIN", b"LOGIN", b"OAUTHBEARER", b"XOAUTH2"]
    assert w.cmd("AUTH CRAM-MD5") == b"-ERR Unsupported authentication mechanism"
    w.close()


def test_second_session_is_in_use(pop3_plain: Pop3Stack) -> None:
    first = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    first.user(USER)
    first.pass_(PASSWORD)
    second = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    second.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    other = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    other.user(USER2)
    other.pass_(PASSWORD2)  # another account is not affected
    other.quit()
    first.quit()
    second.user(USER)  # still in AUTHORIZATION: may try again (RFC 1939 §4)
    assert second.pass_(PASSWORD).startswith(b"+OK")
    second.quit()


def test_lock_released_when_connection_drops(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.cmd(f"USER {USER}")
    assert w.cmd(f"PASS {PASSWORD}").startswith(b"+OK")
    w.close()
    for _ in range(50):  # the server notices the EOF asynchronously
        client = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
        client.user(USER)
        try:
            client.pass_(PASSWORD)
        except poplib.error_proto:
            client.quit()
            continue
        client.quit()
        return
    pytest.fail("the lock was never released")


def test_commands_by_state(pop3_plain: Pop3Stack) -> None:
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    assert w.cmd("STAT") == b"-ERR Command not valid in this state"
    assert w.cmd("NOOP") == b"-ERR Command not valid in this state"
    assert w.cmd("APOP x y") == b"-ERR Unknown command"
    w.cmd(f"USER {USER}")
    w.cmd(f"PASS {PASSWORD}")
    assert w.cmd(f"USER {USER}") == b"-ERR Command not valid in this state"
    assert w.cmd("STLS") == b"-ERR Command not valid in this state"
    assert w.cmd("CAPA").startswith(b"+OK")
    assert b"USER" not in w.multi()
    w.close()
