"""LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB and NAMESPACE
(RFC 9051 §6.3.9-§6.3.10, RFC 5258, RFC 5819, RFC 6154, RFC 3501 §6.3.9).

Invariants: every LIST reply carries ``\\HasChildren`` or ``\\HasNoChildren`` (RFC 5258 §4,
CHILDREN) and the special-use attribute of the mailbox's role; ``LIST "" ""`` returns the
delimiter (RFC 9051 §6.3.9); with RETURN (STATUS) each ``* LIST`` is followed by its
``* STATUS`` (RFC 5819 §2). Other accounts' mailboxes the user may look up (``l``, RFC 4314
§4) are listed under the "Other Users" namespace (RFC 2342 §5), below ``\\Noselect`` levels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.core.models import MailboxCounts

from ..base import Ok
from ..names import OTHER_USERS, SEPARATOR, SPECIAL_USE, Node
from ..proto import commands as c
from ..proto.response import Atom, MailboxName
from .status import status_items

if TYPE_CHECKING:
    from ..session import Session


def _attributes(node: Node, *, subscribed: bool) -> list[Atom]:
    attrs = [Atom("\\HasChildren" if node.has_children else "\\HasNoChildren")]
    if node.mailbox.role in SPECIAL_USE:
        attrs.append(Atom(SPECIAL_USE[node.mailbox.role]))
    if subscribed and node.subscribed:
        attrs.append(Atom("\\Subscribed"))
    return attrs


def _list_line(s: Session, verb: str, attrs: list[Atom], name: str) -> None:
    s.untagged(Atom(verb), attrs, SEPARATOR, MailboxName(name))


async def list_(s: Session, cmd: c.ListMailboxes) -> Ok:
    if cmd.lsub:
        return await _lsub(s, cmd)
    if cmd.patterns == ("",):  # RFC 9051 §6.3.9: the hierarchy delimiter and root
        _list_line(s, "LIST", [Atom("\\Noselect")], "")
        return Ok()
    tree = await s.tree()
    seen: set[int] = set()
    matches: list[Node] = []
    levels: list[str] = []
    for pattern in cmd.patterns:
        for node in tree.match(cmd.reference, pattern):
            if node.mailbox.id not in seen and "l" in node.rights:
                seen.add(node.mailbox.id)
                matches.append(node)
        if not cmd.selection:
            levels += [p for p in tree.match_placeholders(cmd.reference, pattern)
                       if p not in levels]
    # RFC 5258 §3.5 RECURSIVEMATCH: a match that fails the selection but has a descendant
    # that passes it is returned with CHILDINFO naming the criteria.
    childinfo: dict[int, list[str]] = {}
    for criterion, test in (
        ("SUBSCRIBED", lambda n: n.subscribed),
        ("SPECIAL-USE", lambda n: n.mailbox.role in SPECIAL_USE),
    ):
        if criterion not in cmd.selection:
            continue
        kept = []
        for n in matches:
            if test(n):
                kept.append(n)
            elif "RECURSIVEMATCH" in cmd.selection and any(
                test(d) for d in tree.nodes if d.path.startswith(n.path + SEPARATOR)
            ):
                kept.append(n)
                childinfo.setdefault(n.mailbox.id, []).append(criterion)
        matches = kept
    show_sub = "SUBSCRIBED" in cmd.selection or "SUBSCRIBED" in cmd.returns
    counts: dict[int, dict[int, MailboxCounts]] = {}
    for level in levels:
        _list_line(s, "LIST", [Atom("\\Noselect"), Atom("\\HasChildren")], level)
    for node in matches:
        attrs = _attributes(node, subscribed=show_sub)
        info = childinfo.get(node.mailbox.id)
        if info:
            s.untagged(
                Atom("LIST"), attrs, SEPARATOR, MailboxName(node.path), ["CHILDINFO", list(info)]
            )
        else:
            _list_line(s, "LIST", attrs, node.path)
        if cmd.status_items and "r" in node.rights:  # RFC 4314 §4: STATUS needs r
            owner = node.mailbox.account_id
            if owner not in counts:
                counts[owner] = await s.deps.reader.mailbox_counts(owner)
            items = await status_items(s, node.mailbox, cmd.status_items, counts[owner])
            s.untagged(Atom("STATUS"), MailboxName(node.path), items)
    return Ok()


async def _lsub(s: Session, cmd: c.ListMailboxes) -> Ok:
    tree = await s.tree()
    for node in tree.match(cmd.reference, cmd.patterns[0]):
        if node.subscribed and "l" in node.rights:
            _list_line(s, "LSUB", [], node.path)
    return Ok()


async def namespace(s: Session, cmd: c.Namespace) -> Ok:
    """RFC 2342 / RFC 9051 §6.3.10: the personal namespace and other users' (no public one)."""
    s.untagged(
        Atom("NAMESPACE"), [["", SEPARATOR]], [[OTHER_USERS + SEPARATOR, SEPARATOR]], None
    )
    return Ok()
