"""USER name: the first half of a plain-text login (RFC 1939 §7).

Refused without TLS unless plain-text logins are allowed (RFC 2595 §2.3). The name is only
remembered; it is checked together with PASS, so USER never reveals whether an account exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from .. import replies
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    session.check_auth_allowed()
    if len(command.args) != 1:
        session.user = None
        raise ValidationError("pop3.err.syntax")
    session.user = command.args[0]
    session.reply(replies.OK_USER)
