"""SORT and THREAD (RFC 5256; RFC 5267 ESORT ``RETURN``; RFC 5957 DISPLAYFROM/DISPLAYTO).

Invariants: the candidate set is the SEARCH result of the same criteria; ties are broken by
sequence number (RFC 5256 §3); base subjects come from ``core.thread.subject_key``, the one
definition shared with the store's threading.

THREAD runs the algorithms of :mod:`..threads` over the stored Message-ID, References /
In-Reply-To and base subject of the matching messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rongmail.core.models import Message
from rongmail.core.thread import subject_key

from ..base import Ok
from ..proto import commands as c
from ..proto.response import Atom
from ..searching import Evaluator
from ..threads import ThreadInput, ordered_subject, references, render
from .search import emit_esearch

if TYPE_CHECKING:
    from ..session import Session


def _addr(addrs: tuple[tuple[str, str], ...], *, display: bool) -> str:
    if not addrs:
        return ""
    name, email = addrs[0]
    if display and name:
        return name.casefold()
    return email.partition("@")[0].casefold()


def _key(key: str, m: Message) -> Any:
    match key:
        case "ARRIVAL":
            return m.received_at
        case "DATE":
            return m.sent_at or m.received_at
        case "SIZE":
            return m.size
        case "SUBJECT":
            return subject_key(m.subject)
        case "FROM" | "DISPLAYFROM":
            return _addr(m.from_, display=key == "DISPLAYFROM")
        case "TO" | "DISPLAYTO":
            return _addr(m.to, display=key == "DISPLAYTO")
        case "CC":
            return _addr(m.cc, display=False)
    return 0


async def _candidates(s: Session, criteria: Any) -> tuple[list[int], dict[int, Message]]:
    view = s.view
    assert view is not None
    ev = Evaluator(s, view)
    uids = await ev.run(criteria)
    rows = {
        m.id: m
        for m in await s.deps.reader.messages(
            view.mailbox.account_id, [view.entries[u].message_id for u in uids]
        )
    }
    by_uid = {
        u: rows[view.entries[u].message_id] for u in uids if view.entries[u].message_id in rows
    }
    return [u for u in uids if u in by_uid], by_uid


async def sort(s: Session, cmd: c.Sort) -> Ok:
    view = s.view
    assert view is not None
    uids, rows = await _candidates(s, cmd.criteria)
    ordered = list(uids)  # ascending UID == ascending sequence number: the final tie-break
    for sk in reversed(cmd.keys):  # stable sorts, least significant key first
        keys = {u: _key(sk.key, rows[u]) for u in ordered}
        ordered.sort(key=keys.__getitem__, reverse=sk.reverse)
    numbers = ordered if cmd.uid else [view.msn(u) or 0 for u in ordered]
    if cmd.returns is not None:  # RFC 5267 §3: ESORT answers with ESEARCH
        emit_esearch(s, cmd.tag, numbers, cmd.returns or ("ALL",), uid=cmd.uid)
        return Ok()
    s.untagged(Atom("SORT"), *numbers)
    return Ok()


async def thread(s: Session, cmd: c.Thread) -> Ok:
    view = s.view
    assert view is not None
    uids, rows = await _candidates(s, cmd.criteria)
    items = []
    for u in uids:
        m = rows[u]
        refs = m.references or m.in_reply_to
        items.append(
            ThreadInput(
                number=u if cmd.uid else view.msn(u) or 0,
                message_id=m.msgid,
                references=tuple(refs),
                subject=subject_key(m.subject),
                date=m.sent_at or m.received_at,
                is_reply=subject_key(m.subject) != m.subject.strip().casefold(),
            )
        )
    if cmd.algorithm == "ORDEREDSUBJECT":
        roots = ordered_subject(items)
    else:
        roots = references(items)
    out = render(roots)
    s.send(b"* THREAD " + out + b"\r\n" if out else b"* THREAD\r\n")
    return Ok()
