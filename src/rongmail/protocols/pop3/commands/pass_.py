"""PASS string: the password after USER (RFC 1939 §7).

The argument is everything after ``PASS`` and one space, spaces included (RFC 1939 §7 allows
servers to treat them as part of the password). Success opens the maildrop (``session.login``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from ..proto import sasl
from ..proto.parser import Command

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    session.check_auth_allowed()
    user, session.user = session.user, None
    if user is None:
        raise ValidationError("pop3.err.user_first")
    if not command.rest:
        raise ValidationError("pop3.err.syntax")
    await session.login(sasl.Credentials(user, command.rest))
