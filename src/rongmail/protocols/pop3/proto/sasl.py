"""SASL for the POP3 AUTH command (RFC 5034): the shared exchanges of
:mod:`rongmail.protocols.sasl`, with their problems as :class:`~rongmail.errors.ValidationError`
(rendered once as ``-ERR`` by ``replies.py``). A client response of ``*`` cancels (RFC 5034 §4);
``None`` means the AUTH command carried no initial response."""

from __future__ import annotations

from typing import Final

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

_KEYS: dict[core.Reason, str] = {
    "base64": "pop3.err.sasl_base64",
    "utf8": "pop3.err.sasl_base64",
    "syntax": "pop3.err.sasl_malformed",
    "malformed": "pop3.err.sasl_malformed",
}


_POP3 = core.dialect(ValidationError, _KEYS)
PlainExchange, LoginExchange, BearerExchange = _POP3.plain, _POP3.login, _POP3.bearer
Exchange = core.Exchange
decode_response = _POP3.decode_b64
#: A new exchange for a mechanism (upper case), or None when it is not offered.
start = _POP3.start
