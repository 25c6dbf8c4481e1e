"""The POP3 dispatch table: one module per command (DESIGN.md rule 2).

Each module has ``async def handle(session, command) -> None``: it writes its reply through the
session, or raises a :class:`~rongmail.errors.MailError` that the session renders once. The
table says in which RFC 1939 states a command is valid; the session enforces it before calling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..base import State
from ..proto.parser import Command
from . import auth, capa, dele, list_, noop, pass_, quit, retr, rset, stat, stls, top, uidl, user

if TYPE_CHECKING:
    from ..session import Session

Handler = Callable[["Session", Command], Awaitable[None]]

AUTHORIZATION: Final = frozenset({State.AUTHORIZATION})
TRANSACTION: Final = frozenset({State.TRANSACTION})
BOTH: Final = AUTHORIZATION | TRANSACTION


@dataclass(frozen=True, slots=True)
class Spec:
    handler: Handler
    states: frozenset[State]


DISPATCH: Final[Mapping[str, Spec]] = {
    "CAPA": Spec(capa.handle, BOTH),  # RFC 2449 §5
    "USER": Spec(user.handle, AUTHORIZATION),  # RFC 1939 §7
    "PASS": Spec(pass_.handle, AUTHORIZATION),  # RFC 1939 §7
    "AUTH": Spec(auth.handle, AUTHORIZATION),  # RFC 5034 §4
    "STLS": Spec(stls.handle, AUTHORIZATION),  # RFC 2595 §4
    "STAT": Spec(stat.handle, TRANSACTION),  # RFC 1939 §5
    "LIST": Spec(list_.handle, TRANSACTION),  # RFC 1939 §5
    "RETR": Spec(retr.handle, TRANSACTION),  # RFC 1939 §5
    "TOP": Spec(top.handle, TRANSACTION),  # RFC 1939 §7
    "UIDL": Spec(uidl.handle, TRANSACTION),  # RFC 1939 §7
    "DELE": Spec(dele.handle, TRANSACTION),  # RFC 1939 §5
    "NOOP": Spec(noop.handle, TRANSACTION),  # RFC 1939 §5
    "RSET": Spec(rset.handle, TRANSACTION),  # RFC 1939 §5
    "QUIT": Spec(quit.handle, BOTH),  # RFC 1939 §4, §6
}
