"""One POP3 connection: parser events in, reply bytes out (RFC 1939 §3-§6).

Role: the state machine of RFC 1939 (AUTHORIZATION, TRANSACTION, UPDATE), the limits, the
login (USER/PASS and SASL, RFC 5034) and the one place where a
:class:`~rongmail.errors.MailError` becomes a ``-ERR`` line. Each command is handled by its
module in ``commands/`` through :data:`~.commands.DISPATCH`. The session never touches a
socket: ``server.py`` feeds it events and writes what :meth:`Session.take_output` returns.

Invariants:

* Exactly one reply per command, in command order (pipelining, RFC 2449 §6.6); a last
  ``-ERR`` line may follow it when a limit closes the connection.
* Plain-text credentials are refused on a connection without TLS unless
  ``allow_plaintext_auth`` is set (RFC 2595 §2.3); USER and SASL are then not advertised.
* After ``+OK`` to STLS (:attr:`Session.starttls`) the shell drops every byte and command
  already received, and :meth:`tls_started` forgets what was learned before TLS (RFC 2595 §4).
* The maildrop lock is taken after a successful login and released by :meth:`close`, which the
  shell calls however the connection ends. Without QUIT nothing is deleted (RFC 1939 §6).
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

from rongmail.errors import (
    AuthError,
    InternalError,
    MailError,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from rongmail.protocols.sasl import check

from . import replies
from .base import Pop3Deps, State
from .commands import DISPATCH
from .maildrop import Maildrop, load_maildrop
from .proto import sasl
from .proto.parser import BadLine, Event
from .replies import Reply

log = logging.getLogger("rongmail.pop3")


class Session:
    def __init__(self, deps: Pop3Deps, *, remote_ip: str, tls_active: bool) -> None:
        self.deps = deps
        self.remote_ip = remote_ip
        self.tls_active = tls_active
        self.state = State.AUTHORIZATION
        #: The name given by USER, waiting for PASS.
        self.user: str | None = None
        self.exchange: sasl.Exchange | None = None
        self.maildrop: Maildrop | None = None
        #: Set by STLS: the shell must start TLS after writing the output.
        self.starttls = False
        #: Set when the connection must close after the output is written.
        self.closing = False
        self._out: list[bytes] = []
        self._pending = 0
        self._commands = 0
        self._errors = 0
        self._auth_failures = 0

    # -- output ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._out.append(data)
        self._pending += len(data)

    def reply(self, reply: Reply, **params: object) -> None:
        self.send(reply.render(**params))

    @property
    def pending(self) -> int:
        """Octets of output not yet taken."""
        return self._pending

    def take_output(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        self._pending = 0
        return out

    def greeting(self) -> bytes:
        return replies.OK_GREETING.render(hostname=self.deps.hostname)

    def shutdown(self, reply: Reply) -> bytes:
        """A last line before the shell closes (timeout, server shutdown)."""
        self.closing = True
        self.reply(reply)
        return self.take_output()

    # -- state -------------------------------------------------------------------------------

    @property
    def auth_allowed(self) -> bool:
        """May credentials be sent now (RFC 2595 §2.3)?"""
        return self.tls_active or self.deps.settings.allow_plaintext_auth

    def tls_started(self) -> None:
        """TLS is up: forget everything learned before it (RFC 2595 §4)."""
        self.starttls = False
        self.tls_active = True
        self.user = None
        self.exchange = None

    def require_maildrop(self) -> Maildrop:
        if self.maildrop is None:
            raise ValidationError("pop3.err.state")
        return self.maildrop

    # -- events ------------------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        """Answer one event; output accumulates until :meth:`take_output`."""
        self._commands += 1
        try:
            if self._commands > self.deps.settings.max_commands:
                self.reply(replies.ERR_TOO_MANY_COMMANDS)
                self.closing = True
                return
            if self.exchange is not None:
                await self._sasl_response(event)
                return
            if isinstance(event, BadLine):
                key = "pop3.err.line_too_long" if event.reason == "too_long" else "pop3.err.syntax"
                raise ValidationError(key)
            spec = DISPATCH.get(event.verb)
            if spec is None:
                raise ValidationError("pop3.err.unknown_command")
            if self.state not in spec.states:
                raise ValidationError("pop3.err.state")
            await spec.handler(self, event)
        except MailError as err:
            self._fail(err)
        except Exception:
            log.exception("pop3 %s: unexpected error", self.remote_ip)
            self._fail(InternalError())

    def _fail(self, err: MailError) -> None:
        self.send(replies.render_error(err))
        if isinstance(err, AuthError | RateLimited):
            return  # counted by login_failed()
        self._errors += 1
        if self._errors >= self.deps.settings.max_errors and not self.closing:
            self.reply(replies.ERR_TOO_MANY_ERRORS)
            self.closing = True

    # -- login -------------------------------------------------------------------------------

    def check_auth_allowed(self) -> None:
        if not self.auth_allowed:
            raise PermissionDenied("pop3.err.plaintext")

    async def begin_sasl(self, exchange: sasl.Exchange, initial: str | None) -> None:
        """Start an AUTH exchange (RFC 5034 §4) with the optional initial response."""
        self.exchange = exchange
        try:
            await self._sasl_step(None if initial is None else sasl.decode_response(initial))
        except BaseException:
            self.exchange = None
            raise

    async def _sasl_response(self, event: Event) -> None:
        try:
            if isinstance(event, BadLine) and event.reason == "too_long":
                raise ValidationError("pop3.err.line_too_long")
            if isinstance(event, BadLine) and event.reason == "encoding":
                raise ValidationError("pop3.err.sasl_base64")
            text = event.line.strip()
            if text == sasl.CANCEL:
                raise ValidationError("pop3.err.auth_cancelled")
            await self._sasl_step(sasl.decode_response(text))
        except BaseException:
            self.exchange = None
            raise

    async def _sasl_step(self, response: bytes | None) -> None:
        exchange = self.exchange
        if exchange is None:  # pragma: no cover - guarded by the callers
            raise ValidationError("pop3.err.state")
        result = exchange.step(response)  # after a refusal: raises it
        if isinstance(result, bytes):
            self._challenge(result)
            return
        self.exchange = None
        if (
            isinstance(result, sasl.Credentials)
            and result.authzid
            and result.authzid.lower() != result.authcid.lower()
        ):
            await self.login_failed(AuthError(detail="authzid differs from authcid"))
        try:
            await self.login(result)
        except AuthError as err:
            if not isinstance(exchange, sasl.BearerExchange) or self.closing:
                raise
            # RFC 7628 §3.2.2: the error challenge; the client's dummy response gets -ERR
            self.exchange = exchange
            self._challenge(exchange.refuse(err))

    def _challenge(self, challenge: bytes) -> None:
        self.send(b"+ " + sasl.encode_challenge(challenge).encode("ascii") + b"\r\n")

    async def login(self, creds: sasl.Credentials | sasl.BearerCredentials) -> None:
        """Verify credentials (a password, or a bearer token for OAUTHBEARER/XOAUTH2), lock
        and open the maildrop, enter TRANSACTION (RFC 1939 §4)."""
        self.check_auth_allowed()
        self.user = None
        try:
            result = await check(
                self.deps.authenticator, creds, protocol="pop3", remote_ip=self.remote_ip
            )
        except (AuthError, RateLimited) as err:
            await self.login_failed(err)
        account = result.account
        locks = self.deps.locks
        if not locks.acquire(account.id, self):
            raise PermissionDenied("pop3.err.in_use", detail=f"account {account.id} locked")
        try:
            drop = await load_maildrop(self.deps.reader, account, self.deps.sizes)
        except BaseException:
            locks.release(account.id, self)
            raise
        self.maildrop = drop
        self.state = State.TRANSACTION
        count, octets = drop.stat()
        log.info("pop3 %s: %s logged in, %d messages", self.remote_ip, account.address, count)
        self.reply(replies.OK_LOGGED_IN, count=count, octets=octets)

    async def login_failed(self, err: AuthError | RateLimited) -> NoReturn:
        """Count a failed login, wait (growing with each failure), then raise ``err``; close
        after the reply once ``max_auth_failures`` is reached."""
        s = self.deps.settings
        self._auth_failures += 1
        if s.auth_failure_delay:
            await asyncio.sleep(s.auth_failure_delay * self._auth_failures)
        if self._auth_failures >= s.max_auth_failures:
            self.closing = True
        raise err

    # -- end -------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the maildrop lock; marked messages stay (RFC 1939 §6)."""
        if self.maildrop is not None:
            self.deps.locks.release(self.maildrop.account_id, self)
            self.maildrop = None
