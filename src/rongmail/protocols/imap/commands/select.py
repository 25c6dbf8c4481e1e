"""SELECT, EXAMINE, CLOSE, UNSELECT (RFC 9051 §6.3.2, §6.3.3, §6.4.1, §6.4.2; RFC 7162 §3.1.2,
§3.2.5 CONDSTORE/QRESYNC; RFC 3691 UNSELECT).

Invariants: selecting always leaves the previous mailbox first (``* OK [CLOSED]``, RFC 9051
§7.1); the view is built from one listing taken *after* draining the bus, so no change is
lost between the listing and the first live update; CLOSE expunges silently (no EXPUNGE
responses) and only when the mailbox was selected read-write.

Shared mailboxes (RFC 4314 §4): SELECT/EXAMINE need ``r``; a mailbox where the user may change
nothing (no ``s``, ``w``, ``t`` or ``e``) is opened ``READ-ONLY``; CLOSE expunges only with
``e``. The session follows the owner's change bus while such a mailbox is selected.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rongmail.actions import messages as msg

from ..base import Ok, State
from ..proto import commands as c
from ..proto.response import Atom, untagged
from ..proto.sequence import SequenceSet
from ..replies import BadCommand, NoCommand
from ..view import SelectedView
from .acl import require_rights
from .fetch import flags_response

if TYPE_CHECKING:
    from ..session import Session

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
KNOWN_KEYWORDS = ("$Forwarded", "$Junk", "$NotJunk")
#: ``* FLAGS (...)`` (RFC 9051 §7.3.5): the same atoms for every mailbox and session.
_FLAGS_LINE = untagged(Atom("FLAGS"), [Atom(f) for f in SYSTEM_FLAGS + KNOWN_KEYWORDS])


async def select(s: Session, cmd: c.Select) -> Ok:
    if cmd.qresync is not None and not s.qresync:
        raise BadCommand("imap.bad.qresync_not_enabled")  # RFC 7162 §3.2.5
    if s.view is not None:
        s.deselect()
        s.untagged_status("OK", "imap.ok.closed", code="CLOSED")
    await s.drain_bus()
    found = await s.selectable(cmd.mailbox)
    if found is None:
        raise NoCommand("imap.no.nonexistent", code="NONEXISTENT", name=cmd.mailbox)
    mb, rights = found
    require_rights(rights, "r")
    s.follow(mb.account_id)
    listing = await s.deps.listings.listing(s.deps.reader, mb)
    readonly = cmd.readonly or not set(rights) & set("stwe")
    view = SelectedView(mb, listing, readonly=readonly, rights=rights)
    if cmd.condstore or cmd.qresync is not None:
        s.condstore = True
    rev2 = "IMAP4REV2" in s.enabled
    s.send(_FLAGS_LINE)
    permanent = "()" if readonly else _permanent(rights)
    s.untagged_status("OK", "imap.ok.flags", code="PERMANENTFLAGS " + permanent)
    s.untagged(view.exists, Atom("EXISTS"))
    if not rev2:
        s.untagged(0, Atom("RECENT"))
        first_unseen = listing.first_unseen()  # the view is the listing until it changes
        if first_unseen is not None:
            s.untagged_status("OK", "imap.ok.unseen", code=f"UNSEEN {first_unseen}")
    s.untagged_status("OK", "imap.ok.uidvalidity", code=f"UIDVALIDITY {mb.uidvalidity}")
    s.untagged_status("OK", "imap.ok.uidnext", code=f"UIDNEXT {view.uidnext}")
    s.untagged_status("OK", "imap.ok.highestmodseq", code=f"HIGHESTMODSEQ {view.synced_modseq}")
    s.untagged_status("OK", "imap.ok.mailboxid", code=f"MAILBOXID (F{mb.id})")
    s.view = view
    s.state = State.SELECTED
    qr = cmd.qresync
    if qr is not None and qr.uidvalidity == mb.uidvalidity:
        known = qr.known_uids or SequenceSet(((1, max(view.uidnext - 1, 1)),))
        gone = view.missing(known)
        if gone.ranges:
            s.untagged(Atom("VANISHED"), [Atom("EARLIER")], Atom(str(gone)))
        for i, uid in enumerate(view.uids):
            if view.entries[uid].modseq > qr.modseq:
                s.send(flags_response(s, i + 1, uid))
    return Ok(code="READ-ONLY" if readonly else "READ-WRITE")


@lru_cache(maxsize=64)
def _permanent(rights: str) -> str:
    """The PERMANENTFLAGS list the user may change (RFC 4314 §4: ``s`` \\Seen, ``t``
    \\Deleted, ``w`` the other flags and keywords), e.g. ``(\\Seen \\*)``; a function of
    the rights string alone, so built once per distinct rights."""
    out = []
    for flag in SYSTEM_FLAGS:
        right = {"\\Seen": "s", "\\Deleted": "t"}.get(flag, "w")
        if right in rights:
            out.append(flag)
    if "w" in rights:
        out += [*KNOWN_KEYWORDS, "\\*"]
    return "(" + " ".join(out) + ")"


async def close(s: Session, cmd: c.Close) -> Ok:
    view = s.view
    assert view is not None
    if not view.readonly and "e" in view.rights:
        await msg.do_expunge(s.deps.ctx, view.mailbox.account_id, view.mailbox.id)
    s.deselect()
    return Ok()


async def unselect(s: Session, cmd: c.Unselect) -> Ok:
    s.deselect()
    return Ok()
