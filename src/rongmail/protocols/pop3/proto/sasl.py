"""SASL PLAIN (RFC 4616) and LOGIN for the POP3 AUTH command (RFC 5034), sans-IO.

An exchange is a small state machine. ``step(response)`` takes the client's decoded response
(``None`` when AUTH carried no initial response, RFC 5034 §4) and returns either the next
challenge (raw bytes; the session base64-encodes them after ``+ ``) or the final
:class:`Credentials`. Malformed input raises :class:`~rongmail.errors.ValidationError`.
Secrets live only in ``Credentials`` and never reach a ``repr`` or a log.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final

from rongmail.errors import ValidationError

MECHANISMS: Final = ("PLAIN", "LOGIN")
#: RFC 5034 §4: a client response of ``*`` cancels the exchange.
CANCEL: Final = "*"


@dataclass(frozen=True, slots=True)
class Credentials:
    authcid: str
    password: str = field(repr=False)
    authzid: str = ""


def decode_response(text: str) -> bytes:
    """Strict base64 (RFC 5034 §4); ``=`` alone is an empty initial response."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise ValidationError("pop3.err.sasl_base64") from e


def encode_challenge(challenge: bytes) -> str:
    return base64.b64encode(challenge).decode("ascii")


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError("pop3.err.sasl_base64", detail="SASL value is not UTF-8") from e


class PlainExchange:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``; an empty challenge first when the
    client sent no initial response."""

    def __init__(self) -> None:
        self._asked = False

    def step(self, response: bytes | None) -> bytes | Credentials:
        if response is None and not self._asked:
            self._asked = True
            return b""
        parts = (response or b"").split(b"\x00")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ValidationError("pop3.err.sasl_malformed")
        return Credentials(_utf8(parts[1]), _utf8(parts[2]), _utf8(parts[0]))


class LoginExchange:
    """The LOGIN mechanism (draft-murchison-sasl-login): user name, then password. An initial
    response, when given, is the user name."""

    def __init__(self) -> None:
        self._user: str | None = None

    def step(self, response: bytes | None) -> bytes | Credentials:
        if response is None:
            return b"Username:"
        if self._user is None:
            self._user = _utf8(response)
            return b"Password:"
        return Credentials(self._user, _utf8(response))


Exchange = PlainExchange | LoginExchange


def start(mechanism: str) -> Exchange | None:
    """A new exchange for ``mechanism`` (upper case), or None when it is not offered."""
    if mechanism == "PLAIN":
        return PlainExchange()
    if mechanism == "LOGIN":
        return LoginExchange()
    return None
