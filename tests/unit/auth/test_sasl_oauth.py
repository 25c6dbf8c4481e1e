"""SASL OAUTHBEARER (RFC 7628) / XOAUTH2 parsing and the bearer check of the auth port."""

from __future__ import annotations

import json

import pytest

from rongmail.actions import jmap as jact
from rongmail.errors import AuthError
from rongmail.services.auth.sasl_oauth import (
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)


def test_rfc7628_example() -> None:
    # RFC 7628 §4.1 (the token is the RFC's example value)
    msg = (b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
           b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")
    c = parse_oauthbearer(msg)
    assert (c.authzid, c.token, c.host, c.port) == (
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        "server.example.com", "143")
    assert parse_oauthbearer(b"n,a=a=3Db=2Cc@x.test,\x01auth=Bearer t\x01\x01").authzid \
        == "a=b,c@x.test"
    assert parse_oauthbearer(b"n,,\x01auth=Bearer t0k\x01\x01").authzid == ""


@pytest.mark.parametrize("msg", [
    b"p=tls-unique,a=u@x.test,\x01auth=Bearer t\x01\x01",  # channel binding
    b"n,a=u@x.test,\x01auth=Bearer t\x01",  # unterminated
    b"n,a=u@x.test,\x01auth=Basic dTpw\x01\x01",  # not a bearer token
    b"n,a=u@x.test,\x01auth=Bearer \x01\x01",
    b"n,a=u@x.test,\x01host=h\x01\x01",  # no auth
    b"n,a=u=2Xx,\x01auth=Bearer t\x01\x01",  # bad saslname escape
    b"n,a=u@x.test,\x01auth=Bearer a b\x01\x01",
    b"\xff\xfe",
])
def test_malformed_oauthbearer_is_refused(msg: bytes) -> None:
    with pytest.raises(AuthError):
        parse_oauthbearer(msg)


def test_xoauth2_and_error_challenge() -> None:
    c = parse_xoauth2(b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3\x01\x01")
    assert (c.authzid, c.token) == ("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3")
    with pytest.raises(AuthError):
        parse_xoauth2(b"auth=Bearer x\x01\x01")
    assert json.loads(error_challenge()) == {"status": "invalid_token", "schemes": "bearer"}


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_bearer_login_goes_through_the_auth_port(sec) -> None:  # type: ignore[no-untyped-def]
    token, _ = await jact.do_create_token(sec.ctx, sec.user.id, kind="bearer")
    session, _ = await jact.do_create_token(sec.ctx, sec.user.id, kind="session")
    creds = parse_oauthbearer(f"n,a=li@demo.test,\x01auth=Bearer {token}\x01\x01".encode())
    r = await sec.auth.authenticate_bearer(creds.token, username=creds.authzid,
                                           protocol="imap", remote_ip="127.0.0.1")
    assert r.account.id == sec.user.id and r.method == "oauthbearer"
    with pytest.raises(AuthError):  # someone else's name
        await sec.auth.authenticate_bearer(token, username="boss@demo.test", protocol="imap",
                                           remote_ip="127.0.0.1")
    with pytest.raises(AuthError):  # a web session cookie is not a bearer token
        await sec.auth.authenticate_bearer(session, username="li@demo.test", protocol="smtp",
                                           remote_ip="127.0.0.1")
    await jact.do_revoke_token(sec.ctx, token)
    with pytest.raises(AuthError):
        await sec.auth.authenticate_bearer(token, username="", protocol="smtp",
                                           remote_ip="127.0.0.1")
