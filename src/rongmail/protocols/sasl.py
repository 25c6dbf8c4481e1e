"""SASL for every protocol that authenticates (SMTP AUTH RFC 4954, IMAP AUTHENTICATE RFC 9051
§6.2.2 with SASL-IR RFC 4959, POP3 AUTH RFC 5034), sans-IO: PLAIN (RFC 4616), LOGIN
(draft-murchison-sasl-login), OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's pre-standard form).

An exchange is a small state machine: ``step(response)`` takes the client's response, already
base64-decoded (``None`` when the command carried no initial response), and returns either the
next challenge (raw bytes, for the protocol to base64-encode) or the final credentials:
:class:`Credentials` (a password, for ``Authenticator.authenticate``) or
:class:`BearerCredentials` (an OAuth token, for ``Authenticator.authenticate_bearer``);
:func:`check` calls the right one. Problems raise :class:`SaslError` with a neutral ``reason``
that each protocol maps to its own reply exactly once: its ``proto/sasl.py`` builds its
exchanges with :func:`dialect` from its error type and its reply for each reason.

Bearer failures follow RFC 7628 §3.2.2-§3.2.3 (XOAUTH2 behaves the same): when the token is
refused the protocol calls :meth:`BearerExchange.refuse`, sends the returned JSON error
challenge (``{"status":"invalid_token",...}``), and the client's next response (the dummy
``0x01``, whatever it holds) makes ``step`` raise the remembered error, which the protocol
renders as its final failure reply.

Invariants: secrets (passwords, tokens) live only in the credentials objects, never reach a
``repr``, a log or a reply; a mechanism is offered only where the transport allows
credentials at all (the protocol's TLS rule, the same for every mechanism).
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, NoReturn, Protocol, TypeVar

from rongmail.errors import AuthError, MailError
from rongmail.services.auth.sasl_oauth import (
    BearerCredentials,
    error_challenge,
    parse_oauthbearer,
    parse_xoauth2,
)

__all__ = [
    "BEARER_MECHANISMS",
    "MECHANISMS",
    "BearerCredentials",
    "BearerExchange",
    "Checker",
    "Credentials",
    "Dialect",
    "Exchange",
    "LoginExchange",
    "PlainExchange",
    "Refusal",
    "SaslError",
    "check",
    "decode_b64",
    "dialect",
    "encode_challenge",
    "start",
    "utf8",
]

#: Every mechanism offered, in the order advertised.
MECHANISMS: Final = ("PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2")
#: The mechanisms carrying an OAuth bearer token (RFC 7628; XOAUTH2).
BEARER_MECHANISMS: Final = frozenset({"OAUTHBEARER", "XOAUTH2"})

Reason = Literal["base64", "utf8", "syntax", "malformed"]


class SaslError(Exception):
    """``base64``: not strict base64; ``utf8``: a value is not UTF-8; ``syntax``: a response
    where none was expected; ``malformed``: a message without its required fields."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password (PLAIN, LOGIN)."""

    authcid: str
    password: str = field(repr=False)
    authzid: str = ""


Result = bytes | Credentials | BearerCredentials


def decode_b64(text: str) -> bytes:
    """Strict base64 (RFC 4954 §4, RFC 5034 §4); ``=`` alone is an empty initial response."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise SaslError("base64") from e


def encode_challenge(challenge: bytes) -> str:
    return base64.b64encode(challenge).decode("ascii")


def utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SaslError("utf8", "SASL value is not UTF-8") from e


class _Exchange(ABC):
    """What every exchange shares: :meth:`step` runs the mechanism's ``_step`` and hands a
    :class:`SaslError` to :meth:`fail`, which each protocol overrides once (through
    :func:`dialect`) to raise its own error type."""

    def step(self, response: bytes | None) -> Result:
        try:
            return self._step(response)
        except SaslError as e:
            self.fail(e)

    def fail(self, e: SaslError) -> NoReturn:
        raise e

    @abstractmethod
    def _step(self, response: bytes | None) -> Result: ...


class _OneMessage(_Exchange):
    """Mechanisms whose client speaks first with one message (PLAIN, OAUTHBEARER, XOAUTH2):
    an empty challenge when the command carried no initial response (RFC 4954 §4, RFC 4959)."""

    _asked = False

    def _step(self, response: bytes | None) -> Result:
        if response is None:
            if self._asked:
                raise SaslError("syntax")
            self._asked = True
            return b""
        return self._message(response)

    @abstractmethod
    def _message(self, message: bytes) -> Result: ...


class PlainExchange(_OneMessage):
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``."""

    def _message(self, message: bytes) -> Result:
        parts = message.split(b"\x00")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise SaslError("malformed", "malformed PLAIN message")
        return Credentials(utf8(parts[1]), utf8(parts[2]), utf8(parts[0]))


class LoginExchange(_Exchange):
    """User name, then password; an initial response, when given, is the user name."""

    def __init__(self) -> None:
        self._user: str | None = None

    def _step(self, response: bytes | None) -> Result:
        if response is None:
            return b"Username:"
        if self._user is None:
            self._user = utf8(response)
            return b"Password:"
        return Credentials(self._user, utf8(response))


class BearerExchange(_OneMessage):
    """OAUTHBEARER (RFC 7628 §3.1) or XOAUTH2: one client message carrying the token; after
    :meth:`refuse`, one more client response (the dummy ``0x01``, RFC 7628 §3.2.3, whatever it
    holds) ends the exchange with the refusal."""

    def __init__(self, mechanism: str) -> None:
        if mechanism not in BEARER_MECHANISMS:
            raise ValueError(mechanism)
        self.mechanism = mechanism
        self._refusal: MailError | None = None

    def _step(self, response: bytes | None) -> Result:
        if self._refusal is not None:
            err, self._refusal = self._refusal, None
            raise err
        return super()._step(response)

    def _message(self, message: bytes) -> Result:
        parse = parse_xoauth2 if self.mechanism == "XOAUTH2" else parse_oauthbearer
        try:
            return parse(message)
        except AuthError as e:
            raise SaslError("malformed", e.detail) from e

    def refuse(self, err: MailError) -> bytes:
        """The token was refused with ``err``: the error challenge to send (RFC 7628 §3.2.2);
        the client's answer to it makes :meth:`step` raise ``err``."""
        self._refusal = err
        return error_challenge("invalid_token")


Exchange = PlainExchange | LoginExchange | BearerExchange


def start(
    mechanism: str,
    plain: type[PlainExchange] = PlainExchange,
    login: type[LoginExchange] = LoginExchange,
    bearer: type[BearerExchange] = BearerExchange,
) -> Exchange | None:
    """A new exchange for ``mechanism`` (upper case), or None when it is not offered. A
    protocol passes its own subclasses (those with its ``fail``)."""
    if mechanism == "PLAIN":
        return plain()
    if mechanism == "LOGIN":
        return login()
    if mechanism in BEARER_MECHANISMS:
        return bearer(mechanism)
    return None


@dataclass(frozen=True, slots=True)
class Dialect:
    """One protocol's exchanges (made by :func:`dialect`): the shared mechanisms, whose
    problems raise what the protocol's ``render`` makes of them (chained to the SaslError)."""

    plain: type[PlainExchange]
    login: type[LoginExchange]
    bearer: type[BearerExchange]
    render: Callable[[SaslError], Exception]

    def start(self, mechanism: str) -> Exchange | None:
        """A new exchange for ``mechanism`` (upper case), or None when it is not offered."""
        return start(mechanism, self.plain, self.login, self.bearer)

    def decode_b64(self, text: str) -> bytes:
        """:func:`decode_b64`, its problem rendered like an exchange's."""
        try:
            return decode_b64(text)
        except SaslError as e:
            raise self.render(e) from e


W = TypeVar("W", contravariant=True)
V = TypeVar("V")


class Refusal(Protocol[W]):
    """A protocol's error type, built from its reply for a reason and the operator detail."""

    def __call__(self, reply: W, /, *, detail: str) -> Exception: ...


def dialect(error: Refusal[V], replies: Mapping[Reason, V]) -> Dialect:
    """The exchanges of a protocol that renders a :class:`SaslError` as
    ``error(replies[e.reason], detail=e.detail)``, once, for every mechanism and for base64
    decoding. ``replies`` names the protocol's reply for every reason."""

    def render(e: SaslError) -> Exception:
        return error(replies[e.reason], detail=e.detail)

    class Rendered:
        def fail(self, e: SaslError) -> NoReturn:
            raise render(e) from e

    class Plain(Rendered, PlainExchange):
        pass

    class Login(Rendered, LoginExchange):
        pass

    class Bearer(Rendered, BearerExchange):
        pass

    return Dialect(Plain, Login, Bearer, render)


R = TypeVar("R", covariant=True)
T = TypeVar("T")


class Checker(Protocol[R]):
    """The two methods of the authentication port (``services.auth.authenticate``)."""

    async def authenticate(
        self, username: str, password: str, *, protocol: str, remote_ip: str
    ) -> R: ...

    async def authenticate_bearer(
        self, token: str, *, username: str, protocol: str, remote_ip: str
    ) -> R: ...


async def check(
    auth: Checker[T], creds: Credentials | BearerCredentials, *, protocol: str, remote_ip: str
) -> T:
    """Verify what an exchange produced with the matching method of the auth port: a token
    for the account named by the client (the token's own account when none is named)."""
    if isinstance(creds, BearerCredentials):
        return await auth.authenticate_bearer(
            creds.token, username=creds.authzid, protocol=protocol, remote_ip=remote_ip
        )
    return await auth.authenticate(
        creds.authcid, creds.password, protocol=protocol, remote_ip=remote_ip
    )
