"""STAT: ``+OK <count> <octets>`` of the messages not marked as deleted (RFC 1939 §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.errors import ValidationError

from ..proto.parser import Command
from ..proto.wire import status

if TYPE_CHECKING:
    from ..session import Session


async def handle(session: Session, command: Command) -> None:
    if command.args:
        raise ValidationError("pop3.err.syntax")
    count, octets = session.require_maildrop().stat()
    session.send(status(True, f"{count} {octets}"))
