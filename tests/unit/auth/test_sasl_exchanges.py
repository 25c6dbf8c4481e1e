"""The shared sans-IO SASL exchanges (``protocols/sasl.py``): PLAIN, LOGIN, and the bearer
mechanisms OAUTHBEARER (RFC 7628) / XOAUTH2 with the §3.2.2-§3.2.3 error-challenge flow, and
``check`` calling the auth port method that matches the credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rongmail.errors import AuthError, RateLimited
from rongmail.protocols import sasl

TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
OAUTHBEARER = f"n,a=li@demo.test,\x01host=mail.demo.test\x01port=993\x01auth=Bearer {TOKEN}\x01\x01"
XOAUTH2 = f"user=li@demo.test\x01auth=Bearer {TOKEN}\x01\x01"


def test_every_mechanism_starts_and_unknown_is_none() -> None:
    assert sasl.MECHANISMS == ("PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2")
    assert isinstance(sasl.start("PLAIN"), sasl.PlainExchange)
    assert isinstance(sasl.start("LOGIN"), sasl.LoginExchange)
    for mech in ("OAUTHBEARER", "XOAUTH2"):
        ex = sasl.start(mech)
        assert isinstance(ex, sasl.BearerExchange) and ex.mechanism == mech
    assert sasl.start("CRAM-MD5") is None
    assert sasl.start("oauthbearer") is None  # protocols upper-case first
    with pytest.raises(ValueError):
        sasl.BearerExchange("PLAIN")


def test_oauthbearer_initial_response_gives_bearer_credentials() -> None:
    ex = sasl.start("OAUTHBEARER")
    assert ex is not None
    creds = ex.step(OAUTHBEARER.encode())
    assert isinstance(creds, sasl.BearerCredentials)
    assert (creds.authzid, creds.token, creds.host, creds.port) == (
        "li@demo.test",
        TOKEN,
        "mail.demo.test",
        "993",
    )
    assert TOKEN not in repr(creds)


def test_xoauth2_after_an_empty_challenge() -> None:
    ex = sasl.start("XOAUTH2")
    assert ex is not None
    assert ex.step(None) == b""  # no initial response: empty challenge (RFC 4954 §4)
    creds = ex.step(XOAUTH2.encode())
    assert isinstance(creds, sasl.BearerCredentials)
    assert (creds.authzid, creds.token) == ("li@demo.test", TOKEN)


def test_second_missing_response_is_a_syntax_error() -> None:
    ex = sasl.BearerExchange("OAUTHBEARER")
    assert ex.step(None) == b""
    with pytest.raises(sasl.SaslError) as e:
        ex.step(None)
    assert e.value.reason == "syntax"


@pytest.mark.parametrize(
    "mech,msg",
    [
        ("OAUTHBEARER", b"p=tls-unique,a=u@x.test,\x01auth=Bearer t\x01\x01"),
        ("OAUTHBEARER", b"n,a=u@x.test,\x01auth=Basic dTpw\x01\x01"),
        ("OAUTHBEARER", b"\xff\xfe"),
        ("XOAUTH2", b"auth=Bearer x\x01\x01"),
        ("XOAUTH2", b"user=u@x.test\x01auth=Bearer x\x01"),
    ],
)
def test_malformed_bearer_messages(mech: str, msg: bytes) -> None:
    with pytest.raises(sasl.SaslError) as e:
        sasl.BearerExchange(mech).step(msg)
    assert e.value.reason == "malformed"


@pytest.mark.parametrize("mech,msg", [("OAUTHBEARER", OAUTHBEARER), ("XOAUTH2", XOAUTH2)])
def test_refusal_sends_error_challenge_then_fails_on_the_dummy(mech: str, msg: str) -> None:
    ex = sasl.BearerExchange(mech)
    assert isinstance(ex.step(msg.encode()), sasl.BearerCredentials)
    refused = AuthError("auth.risk_refused", detail="bearer token refused")
    challenge = ex.refuse(refused)
    assert json.loads(challenge) == {"status": "invalid_token", "schemes": "bearer"}
    assert TOKEN.encode() not in challenge
    with pytest.raises(AuthError) as e:
        ex.step(b"\x01")  # RFC 7628 §3.2.3: the client's dummy response
    assert e.value is refused


def test_refusal_ends_the_exchange_whatever_the_client_answers() -> None:
    ex = sasl.BearerExchange("XOAUTH2")
    ex.step(XOAUTH2.encode())
    ex.refuse(AuthError())
    with pytest.raises(AuthError):
        ex.step(XOAUTH2.encode())  # a client that re-sends its token gets no second try


def test_plain_and_login_give_password_credentials() -> None:
    plain = sasl.PlainExchange()
    assert plain.step(None) == b""
    creds = plain.step(b"\x00li@demo.test\x00pw 1")
    assert creds == sasl.Credentials("li@demo.test", "pw 1", "")
    assert "pw 1" not in repr(creds)
    login = sasl.LoginExchange()
    assert login.step(None) == b"Username:"
    assert login.step(b"li@demo.test") == b"Password:"
    assert login.step(b"pw") == sasl.Credentials("li@demo.test", "pw")
    with pytest.raises(sasl.SaslError):
        sasl.PlainExchange().step(b"only-one-field")


class _Port:
    """Records which method of the auth port was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def authenticate(
        self, username: str, password: str, *, protocol: str, remote_ip: str
    ) -> str:
        self.calls.append(("password", {"username": username, "protocol": protocol}))
        return "by-password"

    async def authenticate_bearer(
        self, token: str, *, username: str, protocol: str, remote_ip: str
    ) -> str:
        self.calls.append(("bearer", {"token": token, "username": username}))
        if token == "throttled":
            raise RateLimited()
        return "by-token"


async def test_check_calls_the_matching_port_method() -> None:
    port = _Port()
    pw = sasl.Credentials("li@demo.test", "secret")
    assert await sasl.check(port, pw, protocol="imap", remote_ip="192.0.2.1") == "by-password"
    bearer = sasl.BearerCredentials("", TOKEN)
    assert await sasl.check(port, bearer, protocol="smtp", remote_ip="192.0.2.1") == "by-token"
    assert port.calls == [
        ("password", {"username": "li@demo.test", "protocol": "imap"}),
        ("bearer", {"token": TOKEN, "username": ""}),
    ]
    with pytest.raises(RateLimited):
        await sasl.check(
            port,
            sasl.BearerCredentials("x@demo.test", "throttled"),
            protocol="pop3",
            remote_ip="192.0.2.1",
        )
