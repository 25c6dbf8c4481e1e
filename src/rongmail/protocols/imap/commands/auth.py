"""STARTTLS, LOGIN, AUTHENTICATE PLAIN/LOGIN with SASL-IR (RFC 9051 §6.2, RFC 4616, RFC 4959).

Invariants:

* Credentials are never accepted in clear text unless configured (RFC 9051 §6.2.3
  LOGINDISABLED); the reply never says whether the user or the password was wrong.
* Failures are slowed down (``auth_failure_delay`` x failures) and the connection is closed
  after ``max_auth_failures``; the authenticator adds its own per-account lockout.
* After STARTTLS the shell discards anything the client pipelined in clear text.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rongmail.errors import AuthError, MailError

from ..base import PENDING, Ok, Pending
from ..proto import commands as c
from ..proto.events import SaslResponse
from ..proto.response import continuation
from ..replies import BadCommand, NoCommand, error_reply
from .any_state import capabilities

if TYPE_CHECKING:
    from ..session import Session

MECHANISMS = ("PLAIN", "LOGIN")


@dataclass(slots=True)
class SaslState:
    tag: str
    mechanism: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


async def starttls(s: Session, cmd: c.StartTls) -> Ok:
    if s.tls_active or s.deps.tls is None:
        raise BadCommand("imap.bad.tls_active" if s.tls_active else "imap.bad.no_tls")
    s.upgrade = "starttls"
    return Ok(key="imap.ok.starttls")


def _check_plaintext(s: Session) -> None:
    if not s.tls_active and not s.options.allow_plaintext_auth:
        raise NoCommand("imap.no.privacy_required", code="PRIVACYREQUIRED")


async def login(s: Session, cmd: c.Login) -> Ok:
    _check_plaintext(s)
    return await _verify(s, cmd.username, cmd.password)


async def authenticate(s: Session, cmd: c.Authenticate) -> Ok | Pending:
    _check_plaintext(s)
    if cmd.mechanism not in MECHANISMS:
        raise NoCommand("imap.no.mechanism", code="CANNOT")
    state = SaslState(cmd.tag, cmd.mechanism)
    if cmd.initial_response is not None:
        done = _consume(state, cmd.initial_response)
        if done:
            return await _verify(s, state.username or "", state.password or "")
    s.sasl = state
    _challenge(s, state)
    return PENDING


def _challenge(s: Session, state: SaslState) -> None:
    if state.mechanism == "PLAIN":
        s.send(b"+ \r\n")
    else:  # LOGIN: "Username:" / "Password:" (draft-murchison-sasl-login)
        prompt = b"Username:" if state.username is None else b"Password:"
        s.send(continuation(base64.b64encode(prompt).decode("ascii")))
    s.parser.expect_sasl_response()


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadCommand("imap.bad.sasl") from None


def _consume(state: SaslState, data: bytes) -> bool:
    """Take one client response; True when the credentials are complete."""
    if state.mechanism == "PLAIN":
        parts = data.split(b"\x00")
        if len(parts) != 3:
            raise BadCommand("imap.bad.sasl")
        authzid, user, password = (_utf8(p) for p in parts)
        if authzid and authzid.lower() != user.lower():
            raise NoCommand("imap.no.authzid", code="AUTHORIZATIONFAILED")  # no proxy logins
        state.username, state.password = user, password
        return True
    text = _utf8(data)
    if state.username is None:
        state.username = text
        return False
    state.password = text
    return True


async def sasl_step(s: Session, event: SaslResponse) -> None:
    state: SaslState | None = s.sasl
    if state is None:
        s.tagged("*", "BAD", "imap.bad.state")
        return
    if event.cancelled:
        s.sasl = None
        s.tagged(state.tag, "BAD", "imap.bad.auth_cancelled")
        return
    try:
        if not event.valid:
            raise BadCommand("imap.bad.sasl")
        if not _consume(state, event.data):
            _challenge(s, state)
            return
        s.sasl = None
        await _verify(s, state.username or "", state.password or "")
    except MailError as err:
        s.sasl = None
        status, code = error_reply(err)
        s.tagged(state.tag, status, err.key, code=code, **err.params)
        return
    s.tagged(state.tag, "OK", "imap.ok.logged_in", code=_capability_code(s))


def _capability_code(s: Session) -> str:
    return "CAPABILITY " + " ".join(capabilities(s))


async def _verify(s: Session, username: str, password: str) -> Ok:
    try:
        identity = await s.deps.authenticator.authenticate(
            username, password, protocol="imap", remote_ip=s.remote_ip
        )
    except AuthError:
        s.auth_failures += 1
        await asyncio.sleep(s.options.auth_failure_delay * s.auth_failures)
        if s.auth_failures >= s.options.max_auth_failures:
            s.bye("imap.bye.auth_failures")
        raise
    if s.registry is not None and not s.registry.add_user(identity.account.id, s):
        raise NoCommand("imap.no.too_many_sessions", code="LIMIT")
    s.authenticated(identity)
    return Ok(code=_capability_code(s), key="imap.ok.logged_in")
