"""STARTTLS, LOGIN, AUTHENTICATE with SASL-IR (RFC 9051 §6.2, RFC 4959) over the shared SASL
exchanges of ``protocols/sasl.py``: PLAIN (RFC 4616), LOGIN, OAUTHBEARER (RFC 7628), XOAUTH2.

Invariants:

* Credentials are never accepted in clear text unless configured (RFC 9051 §6.2.3
  LOGINDISABLED), whatever the mechanism; the reply never says whether the user or the
  password was wrong, but it carries the error's public text (e.g. "use an app password") and
  its RFC 5530 code (``NO [AUTHENTICATIONFAILED]``, ``[UNAVAILABLE]`` when temporary).
* A refused bearer token gets the RFC 7628 §3.2.2 error challenge first; the client's dummy
  response (§3.2.3) then gets the tagged ``NO``.
* Failures are slowed down (``auth_failure_delay`` x failures) and the connection is closed
  after ``max_auth_failures``; the authenticator adds its own per-account lockout.
* After STARTTLS the shell discards anything the client pipelined in clear text.
* A login is background work (``core.turns``): its credential check starts when the loop has
  nothing else ready, or after :data:`LOGIN_MAX_WAIT` on a loop that never is, so the
  commands of sessions already logged in run first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rongmail.core.turns import background_turn
from rongmail.errors import AuthError, MailError
from rongmail.protocols import sasl

from ..base import PENDING, Ok, Pending
from ..proto import commands as c
from ..proto.events import SaslResponse
from ..proto.response import continuation
from ..replies import BadCommand, NoCommand, error_reply
from .any_state import capabilities

if TYPE_CHECKING:
    from ..session import Session

MECHANISMS = sasl.MECHANISMS

#: How long (seconds) a login may be held back for the commands of sessions already logged
#: in, on a loop that is never idle (``core.turns.background_turn``). Under a saturating load
#: of 20 clients (``bench/imap_mixed.py``, session 12) raising it from the 25 ms default to
#: 0.15 s cut the short commands' p50 from 7.5-9 to 2.5-3 ms and their p99 by about a third
#: (re-login p99 130-170 -> 195-210 ms); 0.3 s gained nothing more. A user waits for a login
#: once per connection and for every other command many times.
LOGIN_MAX_WAIT = 0.15


@dataclass(slots=True)
class SaslState:
    """The running AUTHENTICATE: its tag and the shared exchange."""

    tag: str
    exchange: sasl.Exchange


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
    return await _verify(s, sasl.Credentials(cmd.username, cmd.password))


async def authenticate(s: Session, cmd: c.Authenticate) -> Ok | Pending:
    _check_plaintext(s)
    exchange = sasl.start(cmd.mechanism)
    if exchange is None:
        raise NoCommand("imap.no.mechanism", code="CANNOT")
    state = SaslState(cmd.tag, exchange)
    # RFC 4959: the initial response rides on the command ("=" is an empty one)
    return await _step(s, state, cmd.initial_response)


async def sasl_step(s: Session, event: SaslResponse) -> None:
    """One client line of a running AUTHENTICATE; always ends with the tagged reply unless
    another challenge is sent."""
    state: SaslState | None = s.sasl
    if state is None:
        s.tagged("*", "BAD", "imap.bad.state")
        return
    s.sasl = None
    if event.cancelled:
        s.tagged(state.tag, "BAD", "imap.bad.auth_cancelled")
        return
    try:
        if not event.valid:
            raise BadCommand("imap.bad.sasl")
        result = await _step(s, state, event.data)
    except MailError as err:
        status, code = error_reply(err)
        s.tagged(state.tag, status, err.key, code=code, **err.params)
        return
    if isinstance(result, Ok):
        s.tagged(state.tag, "OK", result.key, code=result.code)


async def _step(s: Session, state: SaslState, response: bytes | None) -> Ok | Pending:
    exchange = state.exchange
    try:
        result = exchange.step(response)  # after a refusal: raises it
    except sasl.SaslError:
        raise BadCommand("imap.bad.sasl") from None
    if isinstance(result, bytes):
        _challenge(s, state, result)
        return PENDING
    if (
        isinstance(result, sasl.Credentials)
        and result.authzid
        and result.authzid.lower() != result.authcid.lower()
    ):
        raise NoCommand("imap.no.authzid", code="AUTHORIZATIONFAILED")  # no proxy logins
    try:
        return await _verify(s, result)
    except AuthError as err:
        if isinstance(exchange, sasl.BearerExchange) and not s.closing:
            _challenge(s, state, exchange.refuse(err))
            return PENDING
        raise


def _challenge(s: Session, state: SaslState, challenge: bytes) -> None:
    s.sasl = state
    s.send(continuation(sasl.encode_challenge(challenge)))
    s.parser.expect_sasl_response()


def _capability_code(s: Session) -> str:
    return "CAPABILITY " + " ".join(capabilities(s))


async def _verify(s: Session, creds: sasl.Credentials | sasl.BearerCredentials) -> Ok:
    # a login is long work (credential check, risk scoring, its login record): it starts when
    # the other sessions' ready commands have run (``core.turns``, :data:`LOGIN_MAX_WAIT`)
    await background_turn(LOGIN_MAX_WAIT)
    try:
        identity = await sasl.check(
            s.deps.authenticator, creds, protocol="imap", remote_ip=s.remote_ip
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
