"""SASL PLAIN (RFC 4616) and LOGIN as used by SMTP AUTH (RFC 4954), sans-IO.

An exchange is a tiny state machine: ``step(response)`` returns either a challenge (bytes to
base64-encode into a 334 reply) or the final :class:`Credentials`. Responses arrive already
base64-decoded; ``None`` means "no initial response" (RFC 4954 §4). Secrets live only in the
Credentials value and are never logged (its ``repr`` hides the password).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import ReplyError

MECHANISMS = ("PLAIN", "LOGIN")


@dataclass(frozen=True, slots=True)
class Credentials:
    authcid: str
    password: str = field(repr=False)
    authzid: str = ""


def decode_b64(text: str) -> bytes:
    """Strict base64 (RFC 4954 §4); ``=`` alone is the empty initial response."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise ReplyError(codes.R501_BASE64) from e


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReplyError(codes.R501_BASE64, detail="SASL value is not UTF-8") from e


class PlainExchange:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``."""

    def __init__(self) -> None:
        self._asked = False

    def step(self, response: bytes | None) -> bytes | Credentials:
        if response is None:
            if self._asked:
                raise ReplyError(codes.R501_SYNTAX)
            self._asked = True
            return b""
        parts = response.split(b"\x00")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ReplyError(codes.R535_AUTH_FAILED, detail="malformed PLAIN message")
        return Credentials(_utf8(parts[1]), _utf8(parts[2]), _utf8(parts[0]))


class LoginExchange:
    """The LOGIN mechanism (draft-murchison-sasl-login): user name, then password."""

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


def start(mechanism: str) -> Exchange:
    if mechanism == "PLAIN":
        return PlainExchange()
    if mechanism == "LOGIN":
        return LoginExchange()
    raise ReplyError(codes.R504_MECHANISM)
