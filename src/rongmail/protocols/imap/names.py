"""IMAP mailbox names over the store's mailbox tree (RFC 9051 §5.1, §6.3.9).

Role: the store keeps a tree (``parent_id`` + leaf ``name``); IMAP speaks in full paths joined
by the hierarchy delimiter ``/``. :class:`MailboxTree` is a snapshot that maps between the two,
resolves names case-insensitively for ``INBOX`` only, and matches LIST patterns (``*`` matches
anything, ``%`` anything but the delimiter).

Invariants: the mailbox with role ``inbox`` is always called ``INBOX`` whatever its stored leaf
name; its children are ``INBOX/...``; names are compared exactly otherwise (IMAP names are case
sensitive, RFC 9051 §5.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rongmail.core.models import SEPARATOR, Mailbox
from rongmail.errors import NotFound

__all__ = ["SEPARATOR", "MailboxTree", "pattern_regex"]

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


class MailboxTree:
    """A snapshot of one account's mailboxes, addressed by IMAP path."""

    def __init__(self, mailboxes: list[Mailbox]) -> None:
        by_id = {m.id: m for m in mailboxes}
        paths: dict[int, str] = {}

        def path_of(m: Mailbox, depth: int = 0) -> str:
            if m.id in paths:
                return paths[m.id]
            leaf = "INBOX" if m.role == "inbox" else m.name
            parent = by_id.get(m.parent_id) if m.parent_id else None
            p = leaf if parent is None or depth > 64 else f"{path_of(parent, depth + 1)}/{leaf}"
            paths[m.id] = p
            return p

        parents = {m.parent_id for m in mailboxes}
        self.nodes: list[Node] = [Node(m, path_of(m), m.id in parents) for m in mailboxes]
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
        full = reference + pattern if not pattern.startswith(SEPARATOR) else pattern
        regex = pattern_regex(full)
        return [n for n in self.nodes if regex.fullmatch(n.path)]


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
