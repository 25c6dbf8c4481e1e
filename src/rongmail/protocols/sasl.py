"""SASL PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), sans-IO, shared by every
protocol that authenticates (SMTP AUTH RFC 4954, POP3 AUTH RFC 5034; OAUTHBEARER and XOAUTH2
from ``services/auth/sasl_oauth.py`` belong here next).

An exchange is a small state machine: ``step(response)`` takes the client's response, already
base64-decoded (``None`` when the command carried no initial response), and returns either the
next challenge (raw bytes, for the protocol to base64-encode) or the final :class:`Credentials`.
Problems raise :class:`SaslError` with a neutral ``reason`` that each protocol maps to its own
reply exactly once. Secrets live only in ``Credentials`` and never reach a ``repr`` or a log.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final, Literal

MECHANISMS: Final = ("PLAIN", "LOGIN")

Reason = Literal["base64", "utf8", "syntax", "malformed"]


class SaslError(Exception):
    """``base64``: not strict base64; ``utf8``: a value is not UTF-8; ``syntax``: a response
    where none was expected; ``malformed``: a PLAIN message without its three fields."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Credentials:
    authcid: str
    password: str = field(repr=False)
    authzid: str = ""


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


class PlainExchange:
    """RFC 4616 §2: ``[authzid] NUL authcid NUL passwd``; an empty challenge first when the
    client sent no initial response."""

    def __init__(self) -> None:
        self._asked = False

    def step(self, response: bytes | None) -> bytes | Credentials:
        if response is None:
            if self._asked:
                raise SaslError("syntax")
            self._asked = True
            return b""
        parts = response.split(b"\x00")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise SaslError("malformed", "malformed PLAIN message")
        return Credentials(utf8(parts[1]), utf8(parts[2]), utf8(parts[0]))


class LoginExchange:
    """User name, then password; an initial response, when given, is the user name."""

    def __init__(self) -> None:
        self._user: str | None = None

    def step(self, response: bytes | None) -> bytes | Credentials:
        if response is None:
            return b"Username:"
        if self._user is None:
            self._user = utf8(response)
            return b"Password:"
        return Credentials(self._user, utf8(response))


def start(mechanism: str) -> PlainExchange | LoginExchange | None:
    """A new exchange for ``mechanism`` (upper case), or None when it is not offered."""
    if mechanism == "PLAIN":
        return PlainExchange()
    if mechanism == "LOGIN":
        return LoginExchange()
    return None
