"""The facts of one SMTP connection and transaction, as immutable values for stages.

The SMTP session builds a new :class:`Envelope` at each checkpoint;
stages read it and never keep it. Addresses are strings as received (domain lower-cased when
ASCII); ``mail_from`` is ``""`` for the null reverse-path (RFC 5321 §4.5.5).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from rongmail.mime.model import ParsedMessage


class Listener(enum.StrEnum):
    """Which kind of port accepted the connection."""

    MX = "mx"  # port 25: inbound from the Internet (RFC 5321)
    SUBMISSION = "submission"  # port 587: STARTTLS then AUTH (RFC 6409)
    SUBMISSIONS = "submissions"  # port 465: implicit TLS then AUTH (RFC 8314)


class RecipientKind(enum.StrEnum):
    LOCAL = "local"  # resolves to one or more local accounts
    UNKNOWN = "unknown"  # a local domain, but nobody by that name
    DISABLED = "disabled"  # a local account that may not receive mail
    REMOTE = "remote"  # not one of our domains: relaying


@dataclass(frozen=True, slots=True)
class AuthIdentity:
    """Who authenticated (RFC 4954). ``username`` is the login name as typed."""

    account_id: int
    tenant_id: int
    address: str
    username: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a recipient address leads, from :class:`rongmail.pipeline.ports.Directory`."""

    kind: RecipientKind
    #: Local accounts that receive the mail (groups and aliases expanded, deduplicated).
    account_ids: tuple[int, ...] = ()
    #: The directory's canonical address for the recipient (plus tag and alias resolved).
    canonical: str = ""
    #: Tenant owning the recipient's domain (None for REMOTE).
    tenant_id: int | None = None
    #: Alias/group members outside our domains: delivered by forwarding through the queue.
    external: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    resolution: Resolution
    notify: frozenset[str] | None = None  # RFC 3461 NOTIFY; empty = NEVER
    orcpt: str | None = None  # RFC 3461 ORCPT, decoded

    @property
    def is_local(self) -> bool:
        return self.resolution.kind is RecipientKind.LOCAL


@dataclass(frozen=True, slots=True)
class Client:
    ip: str
    port: int
    listener: Listener
    local_ip: str = ""
    local_port: int = 0
    tls: bool = False
    tls_version: str | None = None
    tls_cipher: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    client: Client
    helo: str | None = None
    esmtp: bool = False
    auth: AuthIdentity | None = None
    mail_from: str | None = None  # None before MAIL, "" for <>
    declared_size: int | None = None  # RFC 1870 SIZE=
    body: str | None = None  # RFC 6152 BODY=
    smtputf8: bool = False
    ret: str | None = None  # RFC 3461 RET=
    envid: str | None = None  # RFC 3461 ENVID=
    rcpts: tuple[Recipient, ...] = ()
    #: At the RCPT checkpoint: the recipient being decided (not yet in ``rcpts``).
    candidate: Recipient | None = None
    #: At the DATA checkpoint: the complete message as received (no trace headers).
    message: bytes | None = field(default=None, repr=False)
    #: Trace headers (``Received:``) the receiving server adds, CRLF-terminated.
    trace: bytes = field(default=b"", repr=False)
    #: At the DATA checkpoint: ``message`` parsed (once, by the session), for the content
    #: stages and the delivery; ``None`` where nobody parsed it yet.
    parsed: ParsedMessage | None = field(default=None, repr=False, compare=False)
    #: Session identifier for logs and the ``Received:`` id clause.
    session_id: str = ""

    @property
    def authenticated(self) -> bool:
        return self.auth is not None

    @property
    def mail_from_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] if self.mail_from else ""
