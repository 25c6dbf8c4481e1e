"""SMTP AUTH (RFC 4954) over the shared SASL exchanges, sans-IO: OAUTHBEARER / XOAUTH2 with the
RFC 7628 §3.2.2 error challenge, and failure replies that carry the error's public text with the
RFC 4954 §6 code (535 5.7.8, 534 5.7.9, 454 4.7.0). A fake auth port; sockets are in
tests/protocol/auth/test_sasl_bearer_wire.py."""

from __future__ import annotations

import base64
import json

from rongmail.config.smtp import SmtpSettings
from rongmail.errors import AuthError, RateLimited, TemporaryError
from rongmail.pipeline.envelope import AuthIdentity, Client, Listener
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stages import default_stages
from rongmail.protocols.smtp.codes import auth_failure
from rongmail.protocols.smtp.session import Session, SmtpServices

LI = AuthIdentity(account_id=7, tenant_id=1, address="li@demo.test", username="li@demo.test")
GOOD = "good-token"


class _Directory:
    async def resolve(self, address: str):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        return False


class _Delivery:
    async def deliver(self, env, verdict):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")


class _Auth:
    """Passwords: "pw" is right, "risky" is refused by risk scoring, "2fa" needs an app
    password, "busy" is a storage problem. Tokens: only GOOD, for li@demo.test."""

    def __init__(self) -> None:
        self.bearer: list[tuple[str, str]] = []

    async def authenticate(
        self, username: str, password: str, *, authzid: str, remote_ip: str
    ) -> AuthIdentity:
        if password == "pw":
            return LI
        if password == "risky":
            raise AuthError("auth.risk_refused")
        if password == "2fa":
            raise AuthError("auth.app_password_required")
        if password == "busy":
            raise TemporaryError()
        if password == "slow-down":
            raise RateLimited()
        raise AuthError()

    async def authenticate_bearer(
        self, token: str, *, username: str, remote_ip: str
    ) -> AuthIdentity:
        self.bearer.append((token, username))
        if token == GOOD and username in ("", "li@demo.test"):
            return LI
        raise AuthError(detail="bearer token refused")


def _session(**overrides: object) -> tuple[Session, _Auth]:
    settings = SmtpSettings(auth_failure_delay=0, **overrides)  # type: ignore[arg-type]
    auth = _Auth()
    runner = Runner(default_stages(settings, _Directory(), hostname="mail.demo.test"))  # type: ignore[arg-type]
    services = SmtpServices(runner, _Directory(), _Delivery(), auth)  # type: ignore[arg-type]
    client = Client(
        ip="192.0.2.10", port=40000, listener=Listener.SUBMISSIONS, tls=True, tls_version="TLSv1.3"
    )
    return Session(
        settings=settings,
        services=services,
        client=client,
        hostname="mail.demo.test",
        tls_available=True,
        session_id="T",
    ), auth


async def _ready(**overrides: object) -> tuple[Session, _Auth]:
    s, auth = _session(**overrides)
    await s.start()
    out = await s.receive(b"EHLO client.test\r\n")
    assert b"250 AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2\r\n" in out.data
    return s, auth


def b64(data: str) -> bytes:
    return base64.b64encode(data.encode())


async def test_xoauth2_initial_response_accepted() -> None:
    s, auth = await _ready()
    msg = f"user=li@demo.test\x01auth=Bearer {GOOD}\x01\x01"
    out = await s.receive(b"AUTH XOAUTH2 " + b64(msg) + b"\r\n")
    assert out.data == b"235 2.7.0 Authentication successful\r\n"
    assert s.auth == LI and auth.bearer == [(GOOD, "li@demo.test")]


async def test_oauthbearer_after_empty_challenge_without_authzid() -> None:
    s, auth = await _ready()
    assert (await s.receive(b"AUTH OAUTHBEARER\r\n")).data == b"334 \r\n"
    out = await s.receive(b64(f"n,,\x01auth=Bearer {GOOD}\x01\x01") + b"\r\n")
    assert out.data.startswith(b"235 ") and auth.bearer == [(GOOD, "")]


async def test_refused_token_gets_error_challenge_then_535_with_text() -> None:
    s, _ = await _ready()
    msg = "n,a=li@demo.test,\x01auth=Bearer forged\x01\x01"
    out = await s.receive(b"AUTH OAUTHBEARER " + b64(msg) + b"\r\n")
    code, _, challenge = out.data.rstrip(b"\r\n").partition(b" ")
    assert code == b"334"
    assert json.loads(base64.b64decode(challenge)) == {
        "status": "invalid_token",
        "schemes": "bearer",
    }
    out = await s.receive(b"AQ==\r\n")  # RFC 7628 §3.2.3 dummy
    assert out.data == b"535 5.7.8 Invalid user name or password\r\n"
    assert s.auth is None and s.sasl is None
    assert b"forged" not in out.data


async def test_token_of_another_user_is_refused() -> None:
    s, auth = await _ready()
    msg = f"user=boss@demo.test\x01auth=Bearer {GOOD}\x01\x01"
    out = await s.receive(b"AUTH XOAUTH2 " + b64(msg) + b"\r\n")
    assert out.data.startswith(b"334 ")
    out = await s.receive(b"AQ==\r\n")
    assert out.data.startswith(b"535 5.7.8 ") and s.auth is None
    assert auth.bearer == [(GOOD, "boss@demo.test")]


async def test_last_allowed_failure_closes_without_a_challenge() -> None:
    s, _ = await _ready(max_auth_failures=1)
    msg = "user=li@demo.test\x01auth=Bearer nope\x01\x01"
    out = await s.receive(b"AUTH XOAUTH2 " + b64(msg) + b"\r\n")
    assert out.data.startswith(b"535 5.7.8 ") and b"421 4.7.0" in out.data and out.close


async def test_password_failures_carry_public_text_and_rfc4954_codes() -> None:
    s, _ = await _ready(max_auth_failures=10)
    cases = {
        "risky": b"535 5.7.8 Sign-in refused: unusual location or device. Sign in on the web"
        b" to confirm, or use an app password\r\n",
        "2fa": b"534 5.7.9 Use an app password for this mail client (the account password"
        b" is not accepted here)\r\n",
        "wrong": b"535 5.7.8 Invalid user name or password\r\n",
    }
    for password, reply in cases.items():
        out = await s.receive(b"AUTH PLAIN " + b64(f"\x00li@demo.test\x00{password}") + b"\r\n")
        assert out.data == reply, password
    for password in ("busy", "slow-down"):
        out = await s.receive(b"AUTH PLAIN " + b64(f"\x00li@demo.test\x00{password}") + b"\r\n")
        assert out.data.startswith(b"454 4.7.0 "), (password, out.data)
        assert password.encode() not in out.data


def test_reply_text_is_one_ascii_line() -> None:
    r = auth_failure(AuthError("auth.risk_refused"))
    assert (r.code, r.status) == (535, "5.7.8")
    assert r.encode().count(b"\r\n") == 1 and r.encode().isascii()
    r = auth_failure(RateLimited())
    assert (r.code, r.status) == (454, "4.7.0")
