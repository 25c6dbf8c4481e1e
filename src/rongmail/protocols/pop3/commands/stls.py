"""STLS: start TLS on the plain port (RFC 2595 §4).

After ``+OK`` the shell starts the handshake; anything the client pipelined after STLS is
discarded and the session forgets what it learned before TLS (``Session.tls_started``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    if command.args:
        raise ValidationError("pop3.err.syntax")
    if session.tls_active:
        raise ValidationError("pop3.err.tls_active")
    if not session.deps.tls_available:
        raise ValidationError("pop3.err.no_tls")
    session.reply(replies.OK_STLS)
    session.starttls = True
