"""THREAD algorithms of RFC 5256 §2.1 (ORDEREDSUBJECT) and §2.2 (REFERENCES), pure.

Role: turn the messages matching a THREAD command's search into the nested thread structure
and render it as ``thread-list`` (RFC 5256 §4). Input is plain data (number, Message-ID,
parent references, base subject, sent date) so the algorithm is unit-testable without a store.

Invariants: every input message appears exactly once in the output; the parent links never
form a cycle (a link that would close one is dropped, RFC 5256 §2.2 step 1.B); siblings are
ordered by sent date, ties by number; dummy containers (referenced but absent messages) never
appear as numbers, only as the grouping ``((a)(b))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ThreadInput", "ordered_subject", "references", "render"]


@dataclass(frozen=True, slots=True)
class ThreadInput:
    number: int  # sequence number or UID, as the reply wants
    message_id: str | None
    references: tuple[str, ...]  # References, else In-Reply-To (oldest first)
    subject: str  # base subject (RFC 5256 §2.1), already case-folded
    date: int  # sent date (or arrival when absent), unix seconds
    is_reply: bool = False  # the subject had a Re:/Fwd: prefix


@dataclass(eq=False, slots=True)
class Node:
    message: ThreadInput | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def date(self) -> tuple[int, int]:
        if self.message is not None:
            return (self.message.date, self.message.number)
        return min((c.date() for c in self.children), default=(0, 0))

    def is_ancestor_of(self, other: Node) -> bool:
        cur: Node | None = other
        while cur is not None:
            if cur is self:
                return True
            cur = cur.parent
        return False


def _link(parent: Node, child: Node) -> None:
    if child.parent is parent or child is parent or child.is_ancestor_of(parent):
        return
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def references(messages: Sequence[ThreadInput]) -> list[Node]:
    """RFC 5256 §2.2: the REFERENCES algorithm (steps 1-5); returns sorted root nodes."""
    by_id: dict[str, Node] = {}
    loose: list[Node] = []

    def container(mid: str) -> Node:
        node = by_id.get(mid)
        if node is None:
            node = by_id[mid] = Node()
        return node

    for m in messages:
        # Step 1.A: the message's own container; a duplicate Message-ID gets a fresh one.
        own = by_id.get(m.message_id) if m.message_id else None
        if own is not None and own.message is None:
            own.message = m  # a dummy created by an earlier reference
        elif own is None and m.message_id:
            own = by_id[m.message_id] = Node(m)
        else:
            own = Node(m)
            loose.append(own)
        # Step 1.B: link the references in order, parent before child.
        prev: Node | None = None
        for ref in m.references:
            cur = container(ref)
            if prev is not None and cur.parent is None:
                _link(prev, cur)
            prev = cur
        # Step 1.C: the last reference is the message's parent.
        if prev is not None and prev is not own:
            if own.parent is not None:
                own.parent.children.remove(own)
                own.parent = None
            _link(prev, own)
    # Step 2: the root set.
    roots = [n for n in [*by_id.values(), *loose] if n.parent is None]
    # Step 3 (discarding the id table) is implicit; step 4: prune dummies.
    roots = _prune(roots, at_root=True)
    # Step 5: group root threads by base subject.
    roots = _group_by_subject(roots)
    _sort(roots)
    return roots


def _prune(nodes: list[Node], *, at_root: bool) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        node.children = _prune(node.children, at_root=False)
        for c in node.children:
            c.parent = node
        if node.message is None:
            if not node.children:
                continue  # 4.A: an empty dummy goes
            if not at_root or len(node.children) == 1:
                for c in node.children:  # 4.B: promote the children
                    c.parent = node.parent
                out.extend(node.children)
                continue
        out.append(node)
    return out


def _subject_of(node: Node) -> str:
    if node.message is not None:
        return node.message.subject
    return node.children[0].message.subject if node.children and node.children[0].message else ""


def _group_by_subject(roots: list[Node]) -> list[Node]:
    """RFC 5256 §2.2 step 5: threads with the same base subject are merged."""
    table: dict[str, Node] = {}
    for node in roots:
        subj = _subject_of(node)
        if not subj:
            continue
        have = table.get(subj)
        if (
            have is None
            or (have.message is not None and node.message is None)
            or (
                have.message is not None
                and node.message is not None
                and have.message.is_reply
                and not node.message.is_reply
            )
        ):
            table[subj] = node
    out: list[Node] = []
    for node in roots:
        subj = _subject_of(node)
        target = table.get(subj) if subj else None
        if target is None or target is node:
            out.append(node)
            continue
        if target.message is None and node.message is None:
            for c in list(node.children):  # two dummies: merge the children
                _link(target, c)
        elif target.message is None:
            _link(target, node)  # a message joins the dummy
        elif node.message is not None and node.message.is_reply and not target.message.is_reply:
            _link(target, node)  # a reply goes under the original
        else:
            # Otherwise a new dummy holds both (RFC 5256 §2.2 step 5.C).
            dummy = Node()
            idx = out.index(target) if target in out else None
            for n in (target, node):
                n.parent = None
                _link(dummy, n)
            table[subj] = dummy
            if idx is not None:
                out[idx] = dummy
            else:
                out.append(dummy)
    return out


def _sort(nodes: list[Node]) -> None:
    nodes.sort(key=Node.date)
    for n in nodes:
        _sort(n.children)


def ordered_subject(messages: Sequence[ThreadInput]) -> list[Node]:
    """RFC 5256 §2.1: group by base subject, sort by date; the first message of each group
    is the parent of the others (siblings)."""
    groups: dict[str, list[ThreadInput]] = {}
    for m in messages:
        groups.setdefault(m.subject, []).append(m)
    roots: list[Node] = []
    for members in groups.values():
        members.sort(key=lambda x: (x.date, x.number))
        root = Node(members[0])
        for m in members[1:]:
            _link(root, Node(m))
        roots.append(root)
    roots.sort(key=Node.date)
    return roots


def render(roots: list[Node]) -> bytes:
    """``thread-list`` (RFC 5256 §4): ``(1 2 (3)(4 5))((6)(7))``."""
    return b"".join(b"(" + _members(n) + b")" for n in roots)


def _members(node: Node) -> bytes:
    parts: list[bytes] = []
    cur = node
    while True:
        if cur.message is not None:
            parts.append(b"%d" % cur.message.number)
        if len(cur.children) == 1 and cur.message is not None:
            cur = cur.children[0]
            continue
        if cur.children:
            parts.append(b"".join(b"(" + _members(c) + b")" for c in cur.children))
        break
    return b" ".join(parts)
