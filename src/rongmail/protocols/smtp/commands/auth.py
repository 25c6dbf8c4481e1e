"""AUTH (RFC 4954) with the shared SASL exchanges (``protocols/sasl.py``): PLAIN (RFC 4616),
LOGIN, OAUTHBEARER (RFC 7628) and XOAUTH2; initial responses allowed (§4).

Refused: where AUTH is not offered (503), when already authenticated or inside a transaction
(503, §4), before EHLO (503), in clear text when TLS is required (538 5.7.11, §4 and §6).
``*`` cancels an exchange (501, §4). A refused bearer token gets the RFC 7628 §3.2.2 error
challenge (334) first; the client's dummy response then gets the failure reply. Failure replies
carry the error's public text with the RFC 4954 §6 code (``codes.auth_failure``).
Failures are answered slowly and close the connection after ``max_auth_failures`` (session);
credentials never reach a log.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from rongmail.errors import AuthError
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError
from rongmail.protocols.smtp.proto import sasl

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    if not s.auth_offered:
        raise ReplyError(codes.R503_AUTH_UNAVAILABLE)
    if s.helo is None or not s.esmtp:
        raise ReplyError(codes.R503_HELO_FIRST)
    if s.auth is not None:
        raise ReplyError(codes.R503_ALREADY_AUTHENTICATED)
    if s.tx is not None:
        raise ReplyError(codes.R503_AUTH_IN_TRANSACTION)
    if not s.auth_allowed_now:
        raise ReplyError(codes.R538_ENCRYPTION_REQUIRED)
    mechanism, _, initial = arg.partition(" ")
    if not mechanism:
        raise ReplyError(codes.R501_SYNTAX)
    exchange = sasl.start(mechanism.upper())
    response = sasl.decode_b64(initial.strip(" ")) if initial.strip(" ") else None
    return await _step(s, exchange, response)


async def respond(s: Session, line: bytes) -> Reply:
    """A line sent in answer to a 334 challenge."""
    exchange = s.sasl
    s.sasl = None
    if exchange is None:  # pragma: no cover - the session only routes here during AUTH
        raise ReplyError(codes.R503_BAD_SEQUENCE)
    text = line.decode("ascii", "replace").strip(" ")
    if text == "*":
        raise ReplyError(codes.R501_AUTH_CANCELLED)
    return await _step(s, exchange, sasl.decode_b64(text) if text else b"")


def _challenge(s: Session, exchange: sasl.Exchange, challenge: bytes) -> Reply:
    s.sasl = exchange
    return codes.R334_CHALLENGE.format(challenge=base64.b64encode(challenge).decode("ascii"))


async def _step(s: Session, exchange: sasl.Exchange, response: bytes | None) -> Reply:
    try:
        result = exchange.step(response)  # after a refusal: raises it
    except AuthError as err:
        return codes.auth_failure(err)
    if isinstance(result, bytes):
        return _challenge(s, exchange, result)
    try:
        return await s.authenticate(result)
    except AuthError as err:
        if isinstance(exchange, sasl.BearerExchange):  # RFC 7628 §3.2.2
            return _challenge(s, exchange, exchange.refuse(err))
        return codes.auth_failure(err)
