"""SASL for the POP3 AUTH command (RFC 5034): the shared exchanges of
:mod:`rongmail.protocols.sasl`, with their problems as :class:`~rongmail.errors.ValidationError`
(rendered once as ``-ERR`` by ``replies.py``). A client response of ``*`` cancels (RFC 5034 §4);
``None`` means the AUTH command carried no initial response."""

from __future__ import annotations

from typing import Final, NoReturn

from rongmail.errors import ValidationError
from rongmail.protocols import sasl as core
from rongmail.protocols.sasl import MECHANISMS, Credentials, encode_challenge

__all__ = ["CANCEL", "MECHANISMS", "Credentials", "Exchange", "LoginExchange", "PlainExchange",
           "decode_response", "encode_challenge", "start"]

#: RFC 5034 §4: a client response of ``*`` cancels the exchange.
CANCEL: Final = "*"

_KEYS = {
    "base64": "pop3.err.sasl_base64",
    "utf8": "pop3.err.sasl_base64",
    "syntax": "pop3.err.sasl_malformed",
    "malformed": "pop3.err.sasl_malformed",
}


def _raise(e: core.SaslError) -> NoReturn:
    raise ValidationError(_KEYS[e.reason], detail=e.detail) from e


def decode_response(text: str) -> bytes:
    try:
        return core.decode_b64(text)
    except core.SaslError as e:
        _raise(e)


class PlainExchange(core.PlainExchange):
    def step(self, response: bytes | None) -> bytes | Credentials:
        try:
            return super().step(response)
        except core.SaslError as e:
            _raise(e)


class LoginExchange(core.LoginExchange):
    def step(self, response: bytes | None) -> bytes | Credentials:
        try:
            return super().step(response)
        except core.SaslError as e:
            _raise(e)


Exchange = PlainExchange | LoginExchange


def start(mechanism: str) -> Exchange | None:
    """A new exchange for ``mechanism`` (upper case), or None when it is not offered."""
    if mechanism == "PLAIN":
        return PlainExchange()
    if mechanism == "LOGIN":
        return LoginExchange()
    return None
