"""CAPA: the capability list (RFC 2449 §5, §6).

Offered: TOP, UIDL (RFC 1939 §7), RESP-CODES (RFC 2449 §6.4), AUTH-RESP-CODE (RFC 3206 §6),
PIPELINING (RFC 2449 §6.6) and IMPLEMENTATION; in the AUTHORIZATION state also USER and
``SASL PLAIN LOGIN OAUTHBEARER XOAUTH2`` when credentials may be sent (RFC 2595 §2.3; the
same rule for every mechanism, bearer tokens included), and STLS (RFC 2595 §4) while
TLS is available and not yet active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..base import State
from ..proto import sasl
from ..proto.parser import Command
from ..proto.wire import multiline

if TYPE_CHECKING:
    from ..session import Session


def capabilities(session: Session) -> list[str]:
    caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
    if session.state is State.AUTHORIZATION:
        if session.auth_allowed:
            caps += ["USER", "SASL " + " ".join(sasl.MECHANISMS)]
        if session.deps.tls_available and not session.tls_active:
            caps.append("STLS")
    caps.append("IMPLEMENTATION RongMail")
    return caps


async def handle(session: Session, command: Command) -> None:
    if command.args:
        raise ValidationError("pop3.err.syntax")
    session.send(multiline(replies.OK_CAPA.render(), capabilities(session)))
