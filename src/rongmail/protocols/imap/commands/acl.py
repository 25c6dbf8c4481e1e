"""ACL commands (RFC 4314): MYRIGHTS, GETACL, LISTRIGHTS, SETACL, DELETEACL, and the rights
checks every other command makes on shared mailboxes.

An account holds every right on its own mailboxes; another account's rights come from the
``acl`` table (``Reader.acl``/``Reader.shared_with``, written only by
``actions.mailboxes.do_set_acl``) and are carried on each :class:`~..names.Node`.

Invariants:

* Administering an ACL (GETACL, LISTRIGHTS, SETACL, DELETEACL) needs ``a`` (RFC 4314 §4);
  MYRIGHTS needs any right. A mailbox the user holds no right on does not exist for them
  (``NO [NONEXISTENT]``, RFC 4314 §4 "not reveal the existence").
* Identifiers are account addresses of the same tenant; the owner's rights are implicit and
  cannot be changed (``NO [CANNOT]``).
* The obsolete RFC 2086 rights are accepted and shown as RFC 4314 §2.1.1 asks of a server
  announcing ``RIGHTS=texk``: ``c`` means ``kx``, ``d`` means ``xte``; ``c``/``d`` are shown
  whenever one of the rights they stand for is held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import mailboxes as mbx

from ..base import Ok
from ..names import OWNER_RIGHTS, Node
from ..proto import commands as c
from ..proto.response import Atom, MailboxName
from ..replies import BadCommand, NoCommand

if TYPE_CHECKING:
    from ..session import Session

#: RFC 4314 §2.1.1 meaning of the obsolete RFC 2086 rights under ``RIGHTS=texk``.
OBSOLETE = {"c": "kx", "d": "xte"}


def shown(rights: str) -> str:
    """Rights as sent to clients: canonical letters plus ``c``/``d`` (RFC 4314 §2.1.1)."""
    out = "".join(ch for ch in OWNER_RIGHTS if ch in rights and ch not in "a")
    if set(rights) & set(OBSOLETE["c"]):
        out += "c"
    if set(rights) & set(OBSOLETE["d"]):
        out += "d"
    return out + ("a" if "a" in rights else "")


def parse_rights(text: str) -> str:
    """A client's rights string without its ``+``/``-`` prefix, obsolete rights expanded."""
    out: set[str] = set()
    for ch in text:
        if ch in OBSOLETE:
            out.update(OBSOLETE[ch])
        elif ch in OWNER_RIGHTS:
            out.add(ch)
        else:
            raise BadCommand("imap.bad.rights", rights=text)  # RFC 4314 §3.1
    return "".join(ch for ch in OWNER_RIGHTS if ch in out)


def require(node: Node, rights: str) -> None:
    """Refuse unless the session's account holds every right in ``rights`` on ``node``."""
    require_rights(node.rights, rights)


def require_rights(held: str, rights: str) -> None:
    """Refuse unless ``held`` (RFC 4314 rights on a mailbox) has every right in ``rights``."""
    missing = [ch for ch in rights if ch not in held]
    if missing:
        raise NoCommand("imap.no.perm", code="NOPERM", rights="".join(missing))


async def _node(s: Session, name: str) -> Node:
    node = (await s.tree()).get(name)
    if node is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=name)
    return node


async def myrights(s: Session, cmd: c.MyRights) -> Ok:
    node = await _node(s, cmd.mailbox)
    s.untagged(Atom("MYRIGHTS"), MailboxName(node.path), shown(node.rights))
    return Ok()


async def getacl(s: Session, cmd: c.GetAcl) -> Ok:
    node = await _node(s, cmd.mailbox)
    require(node, "a")
    owner = node.owner
    if owner is None:
        assert s.identity is not None
        owner = s.identity.account.address
    pairs: list[str] = [owner, shown(OWNER_RIGHTS)]
    for entry in await s.deps.reader.acl(node.mailbox.id):
        pairs += [entry.grantee, shown(entry.rights)]
    s.untagged(Atom("ACL"), MailboxName(node.path), *pairs)
    return Ok()


async def listrights(s: Session, cmd: c.ListRights) -> Ok:
    """RFC 4314 §3.4: the owner is always granted everything; anyone else nothing by default,
    and each right can be granted on its own."""
    node = await _node(s, cmd.mailbox)
    require(node, "a")
    if await _is_owner(s, node, cmd.identifier):
        s.untagged(Atom("LISTRIGHTS"), MailboxName(node.path), cmd.identifier,
                   shown(OWNER_RIGHTS))
        return Ok()
    optional = [Atom(ch) for ch in shown(OWNER_RIGHTS)]
    s.untagged(Atom("LISTRIGHTS"), MailboxName(node.path), cmd.identifier, "", *optional)
    return Ok()


async def setacl(s: Session, cmd: c.SetAcl | c.DeleteAcl) -> Ok:
    """SETACL (RFC 4314 §3.1, ``+``/``-`` modify the current rights) and DELETEACL (§3.2)."""
    node = await _node(s, cmd.mailbox)
    require(node, "a")
    if await _is_owner(s, node, cmd.identifier):
        raise NoCommand("imap.no.owner_rights", code="CANNOT")
    if isinstance(cmd, c.DeleteAcl):
        rights = ""
    else:
        text = cmd.rights
        mode = text[:1] if text[:1] in "+-" else "="
        wanted = set(parse_rights(text.lstrip("+-")))
        if mode != "=":
            current: set[str] = set()
            for entry in await s.deps.reader.acl(node.mailbox.id):
                if entry.grantee == cmd.identifier.lower():
                    current = set(entry.rights)
            wanted = current | wanted if mode == "+" else current - wanted
        rights = "".join(ch for ch in OWNER_RIGHTS if ch in wanted)
    await mbx.do_set_acl(s.deps.ctx, node.mailbox.id, cmd.identifier, rights)
    return Ok()


async def _is_owner(s: Session, node: Node, identifier: str) -> bool:
    owner = node.owner
    if owner is None:
        assert s.identity is not None
        owner = s.identity.account.address
    return identifier.strip().lower() == owner.lower()
