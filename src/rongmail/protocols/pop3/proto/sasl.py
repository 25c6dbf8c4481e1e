"""SASL for the POP3 AUTH command (RFC 5034): the shared exchanges of
:mod:`rongmail.protocols.sasl`, with their problems as :class:`~rongmail.errors.ValidationError`
(rendered once as ``-ERR`` by ``replies.py``). A client response of ``*`` cancels (RFC 5034 §4);
``None`` means the AUTH command carried no initial response."""

from __future__ import annotations

from typing import Final, NoReturn

from rongmail.errors import ValidationError
from rongmail.protocols import sasl as core
from rongmail.protocols.sasl import MECHANISMS, BearerCredentials, Credentials, encode_challenge

__all__ = [
    "CANCEL",
    "MECHANISMS",
    "BearerCredentials",
    "BearerExchange",
    "Credentials",
    "Exchange",
    "LoginExchange",
    "PlainExchange",
    "decode_response",
    "encode_challenge",
    "start",
]

#: RFC 5034 §4: a client response of ``*`` cancels the exchange.
CANCEL: Final = "*"

_KEYS = {
    "base64": "pop3.err.sasl_base64",
    "utf8": "pop3.err.sasl_base64",
    "syntax": "pop3.err.sasl_malformed",
    "malformed": "pop3.err.sasl_malformed",
}


class _Errors:
    """Mixed into each exchange: its problems become ``ValidationError`` (``-ERR``)."""

    def fail(self, e: core.SaslError) -> NoReturn:
        raise ValidationError(_KEYS[e.reason], detail=e.detail) from e


def decode_response(text: str) -> bytes:
    try:
        return core.decode_b64(text)
    except core.SaslError as e:
        _Errors().fail(e)


class PlainExchange(_Errors, core.PlainExchange):
    pass


class LoginExchange(_Errors, core.LoginExchange):
    pass


class BearerExchange(_Errors, core.BearerExchange):
    pass


Exchange = core.Exchange


def start(mechanism: str) -> Exchange | None:
    """A new exchange for ``mechanism`` (upper case), or None when it is not offered."""
    return core.start(mechanism, PlainExchange, LoginExchange, BearerExchange)
