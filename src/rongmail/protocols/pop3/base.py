"""Shared vocabulary of the POP3 session and its command handlers (no cycle between them).

Role: the RFC 1939 states, the dependencies passed in from ``app.py`` (DESIGN.md rule 10) and
the authentication port. ``commands/*`` import this module, ``session.py`` imports both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from rongmail.actions.context import ActionContext
from rongmail.config.pop3 import Pop3Settings
from rongmail.protocols.sasl import Checker
from rongmail.services.auth.authenticate import AuthResult
from rongmail.store.reader import Reader

from .maildrop import MaildropLocks, WireSizes


class State(enum.Enum):
    """RFC 1939 §3: a session is in one of three states."""

    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"


class PasswordAuthenticator(Checker[AuthResult], Protocol):
    """The port of :class:`rongmail.services.auth.authenticate.Authenticator` we use: the
    password and bearer-token methods of ``protocols.sasl.Checker``."""


@dataclass(frozen=True, slots=True)
class Pop3Deps:
    """Everything a session needs, built once by ``server.start_pop3``."""

    ctx: ActionContext
    reader: Reader
    authenticator: PasswordAuthenticator
    settings: Pop3Settings
    hostname: str
    tls_available: bool
    locks: MaildropLocks
    sizes: WireSizes
