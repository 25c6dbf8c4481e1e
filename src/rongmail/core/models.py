"""Domain records as read from the store (immutable snapshots).

These are plain data: the store's read API returns them and protocols render them. Writes never
take these objects back; they go through ``actions`` with explicit arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ROLES = ("inbox", "drafts", "sent", "junk", "trash", "archive")
#: Default folders every new account gets, in display order (RFC 6154 special-use roles).
DEFAULT_MAILBOXES = ROLES
#: Mailbox path separator for IMAP (RFC 9051 §5.1.1).
SEPARATOR = "/"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int
    name: str
    display_name: str
    quota_bytes: int
    max_accounts: int
    features: dict[str, Any]
    disabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class Domain:
    id: int
    tenant_id: int
    name: str  # IDNA A-label
    alias_of: int | None
    catch_all: str | None
    disabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    tenant_id: int
    domain_id: int
    address: str
    display_name: str
    kind: str  # "user" | "shared"
    role: str  # "user" | "admin" | ... (the identity issue extends this)
    password_hash: str | None = field(repr=False)
    quota_bytes: int
    used_bytes: int
    disabled: bool
    modseq: int
    locale: str
    timezone: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Alias:
    id: int
    tenant_id: int
    domain_id: int
    address: str
    kind: str  # "alias" | "group"
    display_name: str
    disabled: bool
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: int
    account_id: int
    parent_id: int  # 0 = top level
    name: str  # leaf name
    role: str | None
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    subscribed: bool
    sort_order: int


@dataclass(frozen=True, slots=True)
class MailboxCounts:
    mailbox_id: int
    total: int
    unseen: int
    size: int
    total_threads: int = 0
    unseen_threads: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    """One email (JMAP Email), independent of the mailboxes that hold it."""

    id: int
    account_id: int
    thread_id: int
    blob_id: str
    size: int
    received_at: int
    sent_at: int | None
    flags: int
    keywords: frozenset[str]
    modseq: int
    created_modseq: int
    msgid: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_: tuple[tuple[str, str], ...]
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    bcc: tuple[tuple[str, str], ...]
    reply_to: tuple[tuple[str, str], ...]
    sender: tuple[tuple[str, str], ...]
    preview: str
    has_attachment: bool
    header_size: int
    bodystructure_json: str = field(repr=False)
    envelope_json: str = field(repr=False)
    mailbox_ids: tuple[int, ...] = ()

    def bodystructure(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.bodystructure_json)
        return loaded

    def envelope(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.envelope_json)
        return loaded


@dataclass(frozen=True, slots=True)
class MessageParts:
    """What IMAP FETCH reads of a message row: the parts fixed at delivery (blob, header size,
    stored structure and envelope JSON) and the thread id. The same values as the
    :class:`Message` fields of those names, without building a whole row."""

    id: int
    thread_id: int
    blob_id: str
    header_size: int
    bodystructure_json: str = field(repr=False)
    envelope_json: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MailboxEntry:
    """One message as seen in one mailbox (IMAP's view): UID, flags, MODSEQ."""

    uid: int
    message_id: int
    flags: int
    keywords: frozenset[str]
    modseq: int  # max(membership modseq, message modseq)
    size: int
    received_at: int


@dataclass(frozen=True, slots=True)
class AppendResult:
    message_id: int
    mailbox_id: int
    uid: int
    uidvalidity: int
    modseq: int
    thread_id: int
    blob_id: str
    size: int
