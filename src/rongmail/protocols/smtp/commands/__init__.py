"""SMTP verbs, one module each, reached only through :data:`DISPATCH` (DESIGN.md rule 2).

A handler is ``async def handle(session, arg) -> Reply | None``; ``arg`` is the text after the
verb. It raises :class:`~rongmail.protocols.smtp.codes.ReplyError` (or another MailError) to
refuse; ``None`` means the reply comes later (BDAT answers after its chunk, RFC 3030 §2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from rongmail.protocols.smtp.codes import Reply
from rongmail.protocols.smtp.commands import (
    auth,
    bdat,
    data,
    ehlo,
    expn,
    forbidden,
    helo,
    help,
    mail,
    noop,
    quit,
    rcpt,
    rset,
    starttls,
    vrfy,
)

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session

Handler = Callable[["Session", str], Awaitable[Reply | None]]

DISPATCH: Mapping[str, Handler] = MappingProxyType(
    {
        "EHLO": ehlo.handle,
        "HELO": helo.handle,
        "MAIL": mail.handle,
        "RCPT": rcpt.handle,
        "DATA": data.handle,
        "BDAT": bdat.handle,
        "RSET": rset.handle,
        "NOOP": noop.handle,
        "QUIT": quit.handle,
        "VRFY": vrfy.handle,
        "EXPN": expn.handle,
        "HELP": help.handle,
        "STARTTLS": starttls.handle,
        "AUTH": auth.handle,
        **dict.fromkeys(forbidden.VERBS, forbidden.handle),
    }
)

__all__ = ["DISPATCH", "Handler"]
