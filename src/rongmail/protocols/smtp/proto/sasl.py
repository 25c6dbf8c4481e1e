"""SASL for SMTP AUTH (RFC 4954): the shared exchanges of :mod:`rongmail.protocols.sasl`, with
their problems rendered as SMTP replies (501 bad base64 or syntax, 535 malformed credentials,
504 unknown mechanism). Responses arrive base64-decoded; ``None`` means "no initial response"
(RFC 4954 §4)."""

from __future__ import annotations

from typing import NoReturn

from rongmail.protocols import sasl as core
from rongmail.protocols.sasl import MECHANISMS, BearerCredentials, Credentials
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import ReplyError

__all__ = [
    "MECHANISMS",
    "BearerCredentials",
    "BearerExchange",
    "Credentials",
    "Exchange",
    "LoginExchange",
    "PlainExchange",
    "decode_b64",
    "start",
]

_REPLIES = {
    "base64": codes.R501_BASE64,
    "utf8": codes.R501_BASE64,
    "syntax": codes.R501_SYNTAX,
    "malformed": codes.R535_AUTH_FAILED,
}


class _Replies:
    """Mixed into each exchange: its problems become SMTP replies."""

    def fail(self, e: core.SaslError) -> NoReturn:
        raise ReplyError(_REPLIES[e.reason], detail=e.detail) from e


def decode_b64(text: str) -> bytes:
    try:
        return core.decode_b64(text)
    except core.SaslError as e:
        _Replies().fail(e)


class PlainExchange(_Replies, core.PlainExchange):
    pass


class LoginExchange(_Replies, core.LoginExchange):
    pass


class BearerExchange(_Replies, core.BearerExchange):
    pass


Exchange = core.Exchange


def start(mechanism: str) -> Exchange:
    exchange = core.start(mechanism, PlainExchange, LoginExchange, BearerExchange)
    if exchange is None:
        raise ReplyError(codes.R504_MECHANISM)
    return exchange
