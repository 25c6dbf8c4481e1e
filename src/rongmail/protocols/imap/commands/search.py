"""SEARCH and UID SEARCH (RFC 9051 §6.4.4, §7.3.4 ESEARCH; RFC 4731 ESEARCH; RFC 5182 SAVE;
RFC 7162 §3.1.5 MODSEQ).

Invariants: results are computed as UIDs and converted to sequence numbers only at the end;
``RETURN (SAVE)`` stores UIDs so ``$`` stays right after expunges; a plain SEARCH from an
IMAP4rev1 client gets ``* SEARCH``, everything else ``* ESEARCH`` (RFC 9051 §6.4.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom
from ..proto.sequence import SequenceSet
from ..searching import Evaluator

if TYPE_CHECKING:
    from ..session import Session


async def search(s: Session, cmd: c.Search) -> Ok:
    view = s.view
    assert view is not None and cmd.criteria is not None
    ev = Evaluator(s, view)
    uids = await ev.run(cmd.criteria)
    numbers = uids if cmd.uid else [view.msn(u) or 0 for u in uids]
    modseq = max((view.entries[u].modseq for u in uids), default=0) if ev.max_modseq_key else None
    if ev.max_modseq_key:
        s.condstore = True
    returns = cmd.returns
    if returns is None and "IMAP4REV2" in s.enabled:
        returns = ("ALL",)
    if returns is None:
        tail: list[object] = [[Atom("MODSEQ"), modseq]] if modseq else []
        s.untagged(Atom("SEARCH"), *numbers, *tail)
        return Ok()
    opts = returns or ("ALL",)
    if "SAVE" in opts:
        s.saved_search = uids
        opts = tuple(o for o in opts if o != "SAVE")
        if not opts and returns:  # RFC 5182 §2.1: SAVE alone returns no ESEARCH data
            return Ok()
    emit_esearch(s, cmd.tag, numbers, opts, uid=cmd.uid, modseq=modseq)
    return Ok()


def emit_esearch(
    s: Session,
    tag: str,
    numbers: list[int],
    opts: tuple[str, ...],
    *,
    uid: bool,
    modseq: int | None = None,
) -> None:
    """``* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set`` (RFC 4731 §3.1)."""
    parts: list[object] = [Atom("ESEARCH"), [Atom("TAG"), tag]]
    if uid:
        parts.append(Atom("UID"))
    if numbers:
        if "MIN" in opts:
            parts += [Atom("MIN"), min(numbers)]
        if "MAX" in opts:
            parts += [Atom("MAX"), max(numbers)]
        if "ALL" in opts:
            parts += [Atom("ALL"), Atom(str(SequenceSet.of(numbers)))]
    if "COUNT" in opts:
        parts += [Atom("COUNT"), len(numbers)]
    if modseq:
        parts += [Atom("MODSEQ"), modseq]
    s.untagged(*parts)
