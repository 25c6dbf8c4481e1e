"""STORE and UID STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3 UNCHANGEDSINCE).

Invariants: flags are changed only through ``actions.messages.do_set_flags`` (one write, one
change batch); a shared mailbox's flags change only as far as the user's rights go
(RFC 4314 §4: ``s`` \\Seen, ``t`` \\Deleted, ``w`` the rest; else ``NO [NOPERM]``, nothing
changed); the view is updated from its result so this session does not hear its own
change again from the bus; messages refused by UNCHANGEDSINCE are reported in
``[MODIFIED set]`` and left untouched (RFC 7162 §3.1.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.actions import messages as msg
from rongmail.core.flags import DELETED, SEEN, split_flags

from ..base import Ok
from ..proto import commands as c
from ..proto import response as r
from ..proto.sequence import SequenceSet
from ..replies import NoCommand
from .fetch import flags_response

if TYPE_CHECKING:
    from ..session import Session


async def store(s: Session, cmd: c.Store) -> Ok:
    view = s.view
    assert view is not None
    if view.readonly:
        raise NoCommand("imap.no.read_only", code="READ-ONLY")
    uids = view.resolve(cmd.sequence, uid=cmd.uid, saved=s.saved_search)
    if cmd.unchanged_since is not None:
        s.condstore = True
    bits, keywords = split_flags([f for f in cmd.flags if f.lower() != "\\recent"])
    _check_rights(view.rights, cmd.mode, bits, keywords)
    by_mid = {view.entries[u].message_id: u for u in uids}
    kwargs: dict[str, object] = {}
    if cmd.mode == "set":
        kwargs["replace"] = (bits, keywords)
    elif cmd.mode == "add":
        kwargs.update(add=bits, add_keywords=keywords)
    else:
        kwargs.update(remove=bits, remove_keywords=keywords)
    updated: list[tuple[int, int, frozenset[str], int]] = []
    failed: list[int] = []
    if by_mid:
        updated, failed = await msg.do_set_flags(
            s.deps.ctx,
            view.mailbox.account_id,
            list(by_mid),
            unchanged_since=cmd.unchanged_since,
            **kwargs,  # type: ignore[arg-type]
        )
    for mid, flags, kws, modseq in updated:
        view.set_flags(by_mid[mid], flags, kws, modseq)
        s.deps.listings.remember(view.mailbox, view.entries[by_mid[mid]])
    failed_uids = sorted(by_mid[m] for m in failed if m in by_mid)
    failed_set = set(failed_uids)
    changed = {by_mid[m[0]] for m in updated}
    for uid in uids:
        if uid in failed_set:
            continue
        msn = view.msn(uid)
        if msn is None:
            continue
        if not cmd.silent:
            s.send(flags_response(s, msn, uid))
        elif s.condstore and uid in changed:  # RFC 7162 §3.1.3: MODSEQ even when silent
            s.send(r.fetch(msn, [("UID", uid), ("MODSEQ", [view.entries[uid].modseq])]))
    if failed_uids:
        numbers = failed_uids if cmd.uid else [view.msn(u) or 0 for u in failed_uids]
        return Ok(code=f"MODIFIED {SequenceSet.of(numbers)}")
    return Ok()


def _check_rights(rights: str, mode: str, bits: int, keywords: frozenset[str]) -> None:
    """Refuse a STORE touching a flag the user may not change; replacing the flags touches
    them all."""
    if mode == "set":
        needed = {"s", "t", "w"}
    else:
        needed = {"s"} if bits & SEEN else set()
        if bits & DELETED:
            needed.add("t")
        if bits & ~(SEEN | DELETED) or keywords:
            needed.add("w")
    missing = "".join(sorted(needed - set(rights)))
    if missing:
        raise NoCommand("imap.no.perm", code="NOPERM", rights=missing)
