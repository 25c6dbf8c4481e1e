"""SASL for SMTP AUTH (RFC 4954): the shared exchanges of :mod:`rongmail.protocols.sasl`, with
their problems rendered as SMTP replies (501 bad base64 or syntax, 535 malformed credentials,
504 unknown mechanism). Responses arrive base64-decoded; ``None`` means "no initial response"
(RFC 4954 §4)."""

from __future__ import annotations

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

_REPLIES: dict[core.Reason, codes.Reply] = {
    "base64": codes.R501_BASE64,
    "utf8": codes.R501_BASE64,
    "syntax": codes.R501_SYNTAX,
    "malformed": codes.R535_AUTH_FAILED,
}


_SMTP = core.dialect(ReplyError, _REPLIES)
PlainExchange, LoginExchange, BearerExchange = _SMTP.plain, _SMTP.login, _SMTP.bearer
Exchange = core.Exchange
decode_b64 = _SMTP.decode_b64


def start(mechanism: str) -> Exchange:
    exchange = _SMTP.start(mechanism)
    if exchange is None:
        raise ReplyError(codes.R504_MECHANISM)
    return exchange
