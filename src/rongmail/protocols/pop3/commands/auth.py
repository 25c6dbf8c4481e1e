"""AUTH [mechanism [initial-response]]: SASL login (RFC 5034 §4).

Mechanisms PLAIN (RFC 4616), LOGIN, OAUTHBEARER (RFC 7628) and XOAUTH2, with an optional
initial response (``=`` is an empty one). A refused bearer token gets the RFC 7628 §3.2.2 error
challenge; the client's dummy response then gets ``-ERR [AUTH]`` with the error's text (RFC
3206 §4). Without arguments the mechanisms are listed as a multi-line response (the RFC 1734
form some clients, Outlook among them, still send). The rest of the exchange is driven by the
session: each following line is a base64 response, ``*`` cancels (RFC 5034 §4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto import sasl
from ..proto.parser import Command
from ..proto.wire import multiline

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    session.check_auth_allowed()
    args = command.args
    if not args:
        session.send(multiline(replies.OK_MECHANISMS.render(), sasl.MECHANISMS))
        return
    if len(args) > 2:
        raise ValidationError("pop3.err.syntax")
    exchange = sasl.start(args[0].upper())
    if exchange is None:
        raise ValidationError("pop3.err.mechanism")
    await session.begin_sasl(exchange, args[1] if len(args) == 2 else None)
