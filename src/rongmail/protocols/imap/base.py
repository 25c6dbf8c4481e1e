"""Shared vocabulary of the IMAP session and its command handlers.

Role: the connection states (RFC 9051 §3), what a handler returns, the options the listener is
configured with, and the dependencies passed in from ``app.py`` (DESIGN.md rule 10). Kept apart
from :mod:`.session` so that ``commands/*`` can import it without a cycle.

Invariants: a handler either returns :class:`Ok` (the session sends the tagged OK, after any
untagged updates) or :data:`PENDING` (it has started an exchange, IDLE or AUTHENTICATE, that a
later event finishes). Failures are raised as ``MailError`` and rendered once by the session.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from rongmail.protocols.sasl import Checker
from rongmail.services.auth.authenticate import AuthResult

from .msgcache import MessageCache
from .proto.parser import Limits
from .view import ListingCache

if TYPE_CHECKING:
    from rongmail.actions.context import ActionContext
    from rongmail.store.reader import Reader

    from .session import Session

__all__ = [
    "PasswordAuthenticator",
    "PENDING",
    "ImapDeps",
    "ImapOptions",
    "Ok",
    "Pending",
    "SessionRegistry",
    "State",
]


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY: Final = frozenset(State) - {State.LOGOUT}
NOT_AUTH: Final = frozenset({State.NOT_AUTHENTICATED})
AUTH: Final = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED: Final = frozenset({State.SELECTED})


@dataclass(frozen=True, slots=True)
class Ok:
    """Complete the command with ``tag OK [code] <text of key>``."""

    code: str | None = None
    key: str = "imap.ok.done"


class Pending:
    """The command continues (IDLE, a SASL exchange); no tagged reply yet."""


PENDING: Final = Pending()

Handler = Callable[["Session", Any], Awaitable[Ok | Pending]]


@dataclass(frozen=True, slots=True)
class ImapOptions:
    """Listener options (built by :func:`.server.options_from_settings`)."""

    hostname: str = "localhost"
    locale: str = "zh-CN"  # for clients that enabled UTF-8; others get English (7-bit text)
    #: Zone for INTERNALDATE and for the calendar days of SEARCH BEFORE/ON/SINCE (the store
    #: keeps UTC seconds, not the zone a message arrived with).
    timezone: str = "Asia/Shanghai"
    limits: Limits = field(default_factory=Limits)
    #: Allow LOGIN/AUTHENTICATE without TLS (RFC 9051 §11.1 LOGINDISABLED otherwise).
    allow_plaintext_auth: bool = False
    max_sessions_per_ip: int = 50
    max_sessions_per_user: int = 50
    #: Seconds of silence before ``* BYE`` (RFC 9051 §5.4: at least 30 minutes when
    #: authenticated; IDLE clients re-issue IDLE every 29 minutes).
    idle_timeout: float = 1800.0
    #: Seconds allowed before authentication (slow-loris defence).
    login_timeout: float = 60.0
    auth_failure_delay: float = 1.0
    max_auth_failures: int = 3
    max_bad_commands: int = 20


class PasswordAuthenticator(Checker[AuthResult], Protocol):
    """The authentication port (``services.auth.authenticate.Authenticator`` implements it).

    Raises ``AuthError`` for wrong credentials and ``RateLimited`` while throttled; never says
    which part was wrong. Password and bearer-token methods: ``protocols.sasl.Checker``.
    """


class SessionRegistry:
    """Live sessions per client IP and per account, for the connection limits."""

    def __init__(self, *, per_ip: int, per_user: int) -> None:
        self.per_ip = per_ip
        self.per_user = per_user
        self.by_ip: dict[str, int] = {}
        self.by_user: dict[int, set[object]] = {}

    def add_ip(self, ip: str) -> bool:
        n = self.by_ip.get(ip, 0)
        if n >= self.per_ip:
            return False
        self.by_ip[ip] = n + 1
        return True

    def remove_ip(self, ip: str) -> None:
        n = self.by_ip.get(ip, 0) - 1
        if n > 0:
            self.by_ip[ip] = n
        else:
            self.by_ip.pop(ip, None)

    def add_user(self, account_id: int, session: object) -> bool:
        sessions = self.by_user.setdefault(account_id, set())
        if len(sessions) >= self.per_user:
            return False
        sessions.add(session)
        return True

    def remove_user(self, account_id: int, session: object) -> None:
        sessions = self.by_user.get(account_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.by_user[account_id]


@dataclass(slots=True)
class ImapDeps:
    """What a session needs, passed in explicitly from the composition root."""

    ctx: ActionContext
    reader: Reader
    authenticator: PasswordAuthenticator
    options: ImapOptions
    tls: ssl.SSLContext | None = None
    listings: ListingCache = field(default_factory=ListingCache)
    messages: MessageCache = field(default_factory=MessageCache)
