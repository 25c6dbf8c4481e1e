"""IMAP mailbox names over the store's mailbox tree (RFC 9051 §5.1, §6.3.9).

Role: the store keeps a tree (``parent_id`` + leaf ``name``); IMAP speaks in full paths joined
by the hierarchy delimiter ``/``. :class:`MailboxTree` is a snapshot that maps between the two,
resolves names case-insensitively for ``INBOX`` only, and matches LIST patterns (``*`` matches
anything, ``%`` anything but the delimiter).

Invariants: the mailbox with role ``inbox`` is always called ``INBOX`` whatever its stored leaf
name; its children are ``INBOX/...``; names are compared exactly otherwise (IMAP names are case
sensitive, RFC 9051 §5.1).

Shared mailboxes (RFC 4314, RFC 2342 §5 "Other Users' Namespace"): another account's mailbox
the session's account holds rights on appears as ``Other Users/<owner address>/<owner's
path>`` with those rights on its :class:`Node`; own mailboxes carry every right. The levels
``Other Users`` and ``Other Users/<owner>`` are not mailboxes: they are listed ``\\Noselect``
(RFC 9051 §6.3.9) and never resolve.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rongmail.core.models import SEPARATOR, Mailbox
from rongmail.errors import NotFound
from rongmail.store.reader import SharedMailbox

__all__ = ["OTHER_USERS", "OWNER_RIGHTS", "SEPARATOR", "MailboxTree", "Node", "pattern_regex"]

#: RFC 2342 §5 prefix of other users' mailboxes.
OTHER_USERS = "Other Users"
#: What an account may do on its own mailboxes (RFC 4314 §2.1, every right).
OWNER_RIGHTS = "lrswipkxtea"

#: RFC 6154 special-use attribute of each store role.
SPECIAL_USE = {
    "drafts": "\\Drafts",
    "sent": "\\Sent",
    "junk": "\\Junk",
    "trash": "\\Trash",
    "archive": "\\Archive",
}
ROLE_OF_USE = {v.lower(): k for k, v in SPECIAL_USE.items()}


@dataclass(frozen=True, slots=True)
class Node:
    mailbox: Mailbox
    path: str
    has_children: bool
    #: RFC 4314 rights of the session's account on this mailbox.
    rights: str = OWNER_RIGHTS
    #: The owner's address for another account's mailbox; None for one's own.
    owner: str | None = None

    @property
    def shared(self) -> bool:
        return self.owner is not None

    @property
    def subscribed(self) -> bool:
        """Own mailboxes keep the owner's subscription; shared ones count as subscribed (the
        owner's flag is not the grantee's to change)."""
        return self.shared or self.mailbox.subscribed


#: parent levels followed above a mailbox; deeper (or a loop of parents) ends the path there
MAX_DEPTH = 64


def _paths(mailboxes: Sequence[Mailbox]) -> dict[int, str]:
    """Each mailbox's path: its ancestors' names and its own, joined by ``/`` (``INBOX`` for
    the inbox role).

    Iterative on purpose: a recursive inner function refers to itself through its closure,
    a reference cycle that kept every call's mailboxes alive until the cyclic collector ran
    (on each SELECT and LIST: about 12 objects, the largest share of the IMAP load's cyclic
    garbage, and the collector's young passes took 4-11 ms of the event loop)."""
    by_id = {m.id: m for m in mailboxes}
    paths: dict[int, str] = {}
    for m in mailboxes:
        if m.id in paths:
            continue
        chain = [m]  # m and the ancestors whose paths are not known yet, upwards
        base: str | None = None  # the known path above the chain's top, if any
        while True:
            top = chain[-1]
            parent = by_id.get(top.parent_id) if top.parent_id else None
            if parent is None or len(chain) > MAX_DEPTH + 1:
                break
            if parent.id in paths:
                base = paths[parent.id]
                break
            chain.append(parent)
        path = base
        for node in reversed(chain):
            leaf = "INBOX" if node.role == "inbox" else node.name
            path = leaf if path is None else f"{path}/{leaf}"
            paths[node.id] = path
    return paths


class MailboxTree:
    """A snapshot of one account's mailboxes and of those shared with it, by IMAP path."""

    def __init__(
        self, mailboxes: Sequence[Mailbox], shared: Sequence[SharedMailbox] = ()
    ) -> None:
        paths = _paths(mailboxes)
        parents = {m.parent_id for m in mailboxes}
        self.nodes: list[Node] = [Node(m, paths[m.id], m.id in parents) for m in mailboxes]
        #: ``\\Noselect`` levels above shared mailboxes (RFC 9051 §6.3.9).
        self.placeholders: list[str] = []
        by_owner: dict[str, list[SharedMailbox]] = {}
        for sm in shared:
            by_owner.setdefault(sm.owner, []).append(sm)
        for owner, items in by_owner.items():
            # paths in the owner's tree; a mailbox whose parent is not shared shows at the
            # top of the owner's level
            owned = _paths([sm.mailbox for sm in items])
            shared_parents = {sm.mailbox.parent_id for sm in items}
            prefix = f"{OTHER_USERS}{SEPARATOR}{owner}"
            self.placeholders.append(prefix)
            for sm in items:
                self.nodes.append(Node(
                    sm.mailbox, f"{prefix}{SEPARATOR}{owned[sm.mailbox.id]}",
                    sm.mailbox.id in shared_parents, rights=sm.rights, owner=owner,
                ))
        if self.placeholders:
            self.placeholders.insert(0, OTHER_USERS)
        self.by_path = {n.path: n for n in self.nodes}
        self.by_id = {n.mailbox.id: n for n in self.nodes}

    def get(self, name: str) -> Node | None:
        if name.upper() == "INBOX" or name.upper().startswith("INBOX/"):
            name = "INBOX" + name[5:]
        return self.by_path.get(name)

    def resolve(self, name: str) -> Mailbox:
        node = self.get(name)
        if node is None:
            raise NotFound("imap.no.nonexistent", name=name)
        return node.mailbox

    def split(self, name: str) -> tuple[int, str]:
        """``(parent_id, leaf)`` for creating ``name``; the parent must exist."""
        name = name.rstrip(SEPARATOR)
        parent, sep, leaf = name.rpartition(SEPARATOR)
        if not sep:
            return 0, name
        return self.resolve(parent).id, leaf

    def path(self, mailbox_id: int) -> str | None:
        node = self.by_id.get(mailbox_id)
        return node.path if node else None

    def match(self, reference: str, pattern: str) -> list[Node]:
        """Nodes matching ``reference`` + ``pattern`` (RFC 9051 §6.3.9), in tree order."""
        regex = pattern_regex(_full(reference, pattern))
        return [n for n in self.nodes if regex.fullmatch(n.path)]

    def match_placeholders(self, reference: str, pattern: str) -> list[str]:
        """The ``\\Noselect`` levels matching ``reference`` + ``pattern``."""
        regex = pattern_regex(_full(reference, pattern))
        return [p for p in self.placeholders if regex.fullmatch(p)]


def _full(reference: str, pattern: str) -> str:
    return reference + pattern if not pattern.startswith(SEPARATOR) else pattern


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a LIST pattern; ``INBOX`` at the start matches case-insensitively."""
    out = []
    if pattern[:5].upper() == "INBOX" and (len(pattern) == 5 or pattern[5] in "/*%"):
        out.append("INBOX")
        pattern = pattern[5:]
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)
