"""Change records: the one log that drives IMAP CONDSTORE/QRESYNC, JMAP /changes and push.

Every write op bumps its account's ``modseq`` once and appends one :class:`Change` per touched
object in the same transaction. ``type`` names the JMAP data type (``Email``, ``Mailbox``,
``Thread``, ``Identity``...) or ``MailboxMessage`` for an IMAP membership (UID) change;
``action`` is ``created``/``updated``/``destroyed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["created", "updated", "destroyed"]

EMAIL = "Email"
MAILBOX = "Mailbox"
THREAD = "Thread"
MAILBOX_MESSAGE = "MailboxMessage"
ACCOUNT = "Account"


@dataclass(frozen=True, slots=True)
class Change:
    account_id: int
    modseq: int
    type: str
    action: Action
    object_id: int
    mailbox_id: int | None = None
    uid: int | None = None
    #: On an ``Email updated`` published by a flag change of this process: the system-flag
    #: bits (``core.flags``) that changed, old XOR new. ``None`` where unknown: any other
    #: write, and every change read back from the change log (it is not stored). Not part of
    #: a change's identity (equality, hash): a published change and its read-back twin match.
    flags_changed: int | None = field(default=None, compare=False)
