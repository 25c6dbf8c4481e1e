"""One SMTP connection: parser events in, reply bytes out (RFC 5321 §3, §4.1.4).

The session owns a :class:`~rongmail.protocols.smtp.proto.parser.Parser`, the connection state
(greeting, TLS, authentication, the current transaction) and the limits. It dispatches each
command through :data:`rongmail.protocols.smtp.commands.DISPATCH`, asks the pipeline
(:class:`~rongmail.pipeline.runner.Runner`) at every checkpoint and calls the injected ports
(:mod:`rongmail.pipeline.ports`). It never touches a socket: ``server.py`` feeds it bytes and
writes what :meth:`Session.receive` returns.

Invariants:

* Replies are produced strictly in command order and returned together per read, so a pipelined
  group (RFC 2920 §3.1) is answered in one write and nothing is held back while the client waits.
* After ``220`` to STARTTLS everything already received is discarded (RFC 3207 §4.2,
  CVE-2011-0411) and all state learned before TLS is forgotten.
* ``250`` after DATA or ``BDAT ... LAST`` is sent only after :meth:`Delivery.deliver` returned,
  i.e. after the message is durably committed (RFC 5321 §4.1.1.4, §6.1).
* Message content is bounded by ``max_message_size``: beyond it octets are counted and dropped,
  so memory per connection stays bounded while the stream is read to its end.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from rongmail.config.smtp import SmtpSettings
from rongmail.errors import (
    AuthError,
    MailError,
    QuotaExceeded,
    RateLimited,
    StorageFull,
    TooLarge,
)
from rongmail.mime.parse import INLINE_PARSE_MAX, parse_message
from rongmail.pipeline.envelope import AuthIdentity, Client, Envelope, Listener
from rongmail.pipeline.ports import Authenticator, Delivery, Directory
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stage import Action, Checkpoint, Verdict
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError
from rongmail.protocols.smtp.commands import DISPATCH, auth
from rongmail.protocols.smtp.proto import events as ev
from rongmail.protocols.smtp.proto.command import split_command
from rongmail.protocols.smtp.proto.parser import Parser
from rongmail.protocols.smtp.proto.sasl import BearerCredentials, Credentials, Exchange
from rongmail.protocols.smtp.state import PendingChunk, Transaction
from rongmail.protocols.smtp.trace import received_header

log = logging.getLogger(__name__)

#: Pipeline reason codes -> replies. Unknown codes get R550_POLICY / R451_TRY_LATER.
REASON_REPLIES: dict[str, Reply] = {
    "connection.denied": codes.R554_CONNECTION_REJECTED,
    "recipient.unknown": codes.R550_NO_SUCH_USER,
    "recipient.disabled": codes.R550_MAILBOX_DISABLED,
    "relay.denied": codes.R554_RELAY_DENIED,
    "sender.not_owned": codes.R553_SENDER_NOT_OWNED,
    "sender.rejected": codes.R550_SENDER_REJECTED,
    "size.exceeded": codes.R552_MESSAGE_TOO_BIG,
    "rate.limited": codes.R451_RATE_LIMITED,
}


@dataclass(frozen=True, slots=True)
class SmtpServices:
    """The ports a session calls, built once by ``app.py``."""

    runner: Runner
    directory: Directory
    delivery: Delivery
    authenticator: Authenticator | None = None


@dataclass(slots=True)
class Output:
    """What the shell must do after a call: write ``data``, then maybe start TLS or close."""

    data: bytes = b""
    close: bool = False
    starttls: bool = False


def reply_for_verdict(verdict: Verdict) -> Reply:
    reason = verdict.primary
    mapped = REASON_REPLIES.get(reason.code) if reason else None
    temporary = verdict.action is Action.TEMPFAIL
    if mapped is not None and mapped.temporary == temporary:
        return mapped
    return codes.R451_TRY_LATER if temporary else codes.R550_POLICY


def reply_for_error(err: MailError) -> Reply:
    """Render a MailError once, at the SMTP edge (DESIGN.md house rule 5)."""
    if isinstance(err, ReplyError):
        return err.reply
    if isinstance(err, QuotaExceeded):
        return codes.R552_MAILBOX_FULL
    if isinstance(err, StorageFull):
        return codes.R452_STORAGE_FULL
    if isinstance(err, TooLarge):
        return codes.R552_MESSAGE_TOO_BIG
    if isinstance(err, RateLimited):
        return codes.R451_RATE_LIMITED
    if isinstance(err, AuthError):
        return codes.auth_failure(err)
    return codes.R451_LOCAL_ERROR if err.temporary else codes.R554_TRANSACTION_FAILED


class Session:
    """State machine of one connection (one instance per accepted socket)."""

    def __init__(
        self,
        *,
        settings: SmtpSettings,
        services: SmtpServices,
        client: Client,
        hostname: str,
        tls_available: bool,
        session_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.client = client
        self.hostname = hostname
        self.tls_available = tls_available
        self.id = session_id or secrets.token_hex(6).upper()
        self.parser = self._new_parser()
        self.helo: str | None = None
        self.esmtp = False
        self.auth: AuthIdentity | None = None
        self.tx: Transaction | None = None
        self.sasl: Exchange | None = None
        self.chunk: PendingChunk | None = None
        self.receiving_data = False
        self.starttls_pending = False
        self.closing = False
        self.commands = 0
        self.errors = 0
        self.auth_failures = 0
        self._out: list[bytes] = []

    # -- facts commands consult ----------------------------------------------------------------

    @property
    def is_submission(self) -> bool:
        return self.client.listener is not Listener.MX

    @property
    def auth_offered(self) -> bool:
        """AUTH exists on this port at all (RFC 4954)."""
        if self.services.authenticator is None:
            return False
        return self.is_submission or self.settings.auth_on_mx

    @property
    def auth_allowed_now(self) -> bool:
        """AUTH may be used now: offered, and TLS is active when required (RFC 4954 §4)."""
        return self.auth_offered and (self.client.tls or not self.settings.require_tls_for_auth)

    def envelope(self, **changes: Any) -> Envelope:
        """The envelope as of now, with ``changes`` applied (built in one construction: it is
        needed at every checkpoint)."""
        fields: dict[str, Any] = {
            "client": self.client,
            "helo": self.helo,
            "esmtp": self.esmtp,
            "auth": self.auth,
            "session_id": self.id,
        }
        tx = self.tx
        if tx is not None:
            p = tx.params
            fields["mail_from"] = tx.mail_from
            fields["declared_size"] = p.size
            fields["body"] = p.body
            fields["smtputf8"] = p.smtputf8
            fields["ret"] = p.ret
            fields["envid"] = p.envid
            fields["rcpts"] = tuple(tx.rcpts)
        fields.update(changes)
        return Envelope(**fields)

    async def check(self, point: Checkpoint, env: Envelope) -> None:
        """Run the pipeline; raise ReplyError when it refuses."""
        verdict = await self.services.runner.run(point, env)
        if verdict.refused:
            raise ReplyError(reply_for_verdict(verdict), detail=str(verdict.primary))

    def reset_transaction(self) -> None:
        self.tx = None
        self.chunk = None
        self.receiving_data = False

    def reset_all(self) -> None:
        """Forget everything negotiated: after EHLO/HELO (RFC 5321 §4.1.4) and TLS start."""
        self.reset_transaction()
        self.sasl = None

    # -- shell entry points ----------------------------------------------------------------

    async def start(self) -> Output:
        """The greeting (RFC 5321 §4.3.1), after the CONNECT checkpoint."""
        verdict = await self.services.runner.run(Checkpoint.CONNECT, self.envelope())
        if verdict.refused:
            # RFC 5321 §3.1: 554 refuses the session; 421 asks the client to come back later
            refusal = reply_for_verdict(verdict)
            if refusal.temporary:
                refusal = codes.R421_UNAVAILABLE
            self.reply(refusal.format(hostname=self.hostname))
            self.closing = True
        else:
            self.reply(codes.R220_GREETING.format(hostname=self.hostname))
        return self._flush()

    async def receive(self, data: bytes) -> Output:
        """Feed received octets; returns every reply they caused, in order."""
        events = self.parser.feed(data)
        while events and not self.closing and not self.starttls_pending:
            for event in events:
                await self._event(event)
                if self.closing or self.starttls_pending:
                    break
            if self.starttls_pending:
                dropped = self.parser.discard_buffer()
                if dropped:
                    log.warning("session=%s discarded %d octets sent before TLS", self.id, dropped)
                break
            if self.parser.blocked:
                if self.receiving_data:
                    self.parser.accept_data()
                else:
                    self.parser.resume()
            events = self.parser.feed(b"")
        return self._flush()

    def tls_started(self, *, version: str | None, cipher: str | None) -> None:
        """TLS is up: new parser, state as freshly connected (RFC 3207 §4.2)."""
        self.starttls_pending = False
        self.parser = self._new_parser()
        self.helo = None
        self.esmtp = False
        self.auth = None
        self.reset_all()
        self.client = replace(self.client, tls=True, tls_version=version, tls_cipher=cipher)

    def shutdown(self, reply: Reply) -> bytes:
        """Bytes for a 421 the shell sends on timeout or shutdown."""
        self.closing = True
        return reply.format(hostname=self.hostname).encode()

    # -- replies ---------------------------------------------------------------------------

    def reply(self, reply: Reply) -> None:
        self._out.append(reply.encode())
        if reply.is_error and reply.code != 421:
            self.errors += 1
            if self.errors >= self.settings.max_errors and not self.closing:
                self._out.append(codes.R421_TOO_MANY_ERRORS.format(hostname=self.hostname).encode())
                self.closing = True

    def _flush(self) -> Output:
        out = Output(b"".join(self._out), self.closing, self.starttls_pending)
        self._out.clear()
        return out

    # -- events ----------------------------------------------------------------------------

    async def _event(self, event: ev.Event) -> None:
        if isinstance(event, ev.CommandLine):
            await self._command(event.line)
        elif isinstance(event, ev.DataChunk):
            self._content(event.data)
        elif isinstance(event, ev.DataEnd):
            self.receiving_data = False
            await self._end_of_message(bare_line_ending=event.bare_line_ending)
        elif isinstance(event, ev.ChunkEnd):
            await self._end_of_chunk()
        elif isinstance(event, ev.LineTooLong):
            self.sasl = None
            self.reply(codes.R500_LINE_TOO_LONG)
        elif isinstance(event, ev.InvalidLineEnding):
            self.sasl = None
            self.reply(codes.R500_BARE_LINE_ENDING)

    async def _command(self, line: bytes) -> None:
        self.commands += 1
        if self.commands > self.settings.max_commands:
            self.reply(codes.R421_TOO_MANY_COMMANDS.format(hostname=self.hostname))
            self.closing = True
            return
        try:
            if self.sasl is not None:
                result: Reply | None = await auth.respond(self, line)
            else:
                verb, arg = split_command(line)
                handler = DISPATCH.get(verb)
                if handler is None:
                    raise ReplyError(codes.R500_UNRECOGNIZED, detail=verb[:16])
                result = await handler(self, arg)
        except MailError as e:
            result = reply_for_error(e)
            if not isinstance(e, ReplyError):
                log.warning("session=%s command failed: %s", self.id, e)
        except Exception:
            log.exception("session=%s internal error", self.id)
            result = codes.R451_LOCAL_ERROR
        if result is not None:
            self.reply(result)

    def _content(self, data: bytes) -> None:
        """Message octets of DATA or of an accepted BDAT chunk."""
        tx = self.tx
        if tx is None or (self.chunk is not None and self.chunk.refusal is not None):
            return
        if not self.receiving_data and self.chunk is None:
            return  # octets of a chunk the session never accepted (e.g. during SASL)
        tx.size += len(data)
        if tx.too_big:
            return
        if tx.size > self.settings.max_message_size:
            tx.too_big = True
            tx.body = bytearray()  # release memory; keep reading to stay in sync
            return
        if self.chunk is not None:
            tx.line_check.update(data)
        tx.body += data

    async def _end_of_chunk(self) -> None:
        chunk, self.chunk = self.chunk, None
        if chunk is None:
            return
        if chunk.refusal is not None:
            if chunk.refusal.code != 503:
                self.reset_transaction()  # RFC 3030 §2: a failed chunk fails the transaction
            self.reply(chunk.refusal)
            return
        if not chunk.last:
            self.reply(codes.R250_CHUNK_OK.format(size=chunk.size))
            return
        clean = self.tx is not None and self.tx.line_check.finish()
        await self._end_of_message(bare_line_ending=not clean)

    async def _end_of_message(self, *, bare_line_ending: bool) -> None:
        """End of DATA or BDAT LAST: check, deliver, then (and only then) 250."""
        tx = self.tx
        if tx is None:
            return
        try:
            if bare_line_ending:
                raise ReplyError(codes.R554_BARE_LINE_ENDING)
            if tx.too_big:
                raise ReplyError(codes.R552_MESSAGE_TOO_BIG)
            message = bytes(tx.body)
            tx.body = bytearray()
            # parsed once here for the content stages and the delivery (a small message on
            # the loop: pure Python work a thread would not run in parallel)
            if len(message) <= INLINE_PARSE_MAX:
                parsed = parse_message(message)
            else:
                parsed = await asyncio.to_thread(parse_message, message)
            env = self.envelope(message=message, parsed=parsed)
            env = replace(
                env,
                trace=received_header(env, hostname=self.hostname, now=datetime.now(UTC)),
            )
            verdict = await self.services.runner.run(Checkpoint.DATA, env)
            if verdict.refused:
                raise ReplyError(reply_for_verdict(verdict), detail=str(verdict.primary))
            queue_id = await self.services.delivery.deliver(env, verdict)
            result = codes.R250_QUEUED.format(queue_id=queue_id)
            log.info(
                "session=%s accepted id=%s client=%s from=<%s> rcpts=%d size=%d action=%s",
                self.id,
                queue_id,
                self.client.ip,
                env.mail_from,
                len(env.rcpts),
                len(message),
                verdict.action.name,
            )
        except MailError as e:
            result = reply_for_error(e)
            log.info("session=%s message refused: %s", self.id, e)
        except Exception:
            log.exception("session=%s delivery failed", self.id)
            result = codes.R451_LOCAL_ERROR
        finally:
            self.reset_transaction()
        self.reply(result)

    # -- authentication --------------------------------------------------------------------

    async def authenticate(self, creds: Credentials | BearerCredentials) -> Reply:
        """Verify what a SASL exchange produced (a password or a bearer token); slows down and
        finally disconnects on repeated failure. Re-raises an ``AuthError`` while the client
        may still try again (the caller renders it, or sends the RFC 7628 error challenge
        first); a temporary failure is answered 454 (RFC 4954 §6)."""
        authenticator = self.services.authenticator
        if authenticator is None:
            return codes.R503_AUTH_UNAVAILABLE
        try:
            if isinstance(creds, BearerCredentials):
                self.auth = await authenticator.authenticate_bearer(
                    creds.token, username=creds.authzid, remote_ip=self.client.ip
                )
            else:
                self.auth = await authenticator.authenticate(
                    creds.authcid, creds.password, authzid=creds.authzid, remote_ip=self.client.ip
                )
        except AuthError as e:
            self.auth_failures += 1
            log.info("session=%s AUTH failed (attempt %d): %s", self.id, self.auth_failures, e.key)
            await asyncio.sleep(self.settings.auth_failure_delay * self.auth_failures)
            if self.auth_failures >= self.settings.max_auth_failures:
                self.reply(codes.auth_failure(e))
                self.closing = True
                return codes.R421_AUTH_FAILURES.format(hostname=self.hostname)
            raise
        except MailError as e:
            log.warning("session=%s AUTH unavailable: %s", self.id, e)
            return codes.auth_failure(e)
        return codes.R235_AUTH_OK

    def _new_parser(self) -> Parser:
        return Parser(max_line=self.settings.max_line_length)
