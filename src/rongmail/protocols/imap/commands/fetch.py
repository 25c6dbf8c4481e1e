"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 §3.1.4 CHANGEDSINCE,
§3.2.6 VANISHED; RFC 8474 EMAILID/THREADID).

Invariants:

* Metadata-only fetches (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ, EMAILID) are answered
  from the session view without touching the store; message rows and blobs are read in batches
  of :data:`BATCH` only when an attribute needs them, and output is flushed per batch so memory
  stays bounded on ``FETCH 1:* BODY[]``.
* Fetching a non-PEEK body section of an unseen message sets ``\\Seen`` through
  ``actions.messages.do_set_flags`` *before* answering, and the response then includes FLAGS
  (RFC 9051 §6.4.5).
* UID FETCH always returns UID; with CONDSTORE active every response has MODSEQ
  (RFC 7162 §3.1.4.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rongmail.actions import messages as msg
from rongmail.core.flags import SEEN, imap_flags
from rongmail.core.models import MailboxEntry, Message
from rongmail.mime.model import MimePart

from ..base import Ok
from ..message import binary_bytes, body_structure, envelope, partial, section_bytes
from ..proto import commands as c
from ..proto import response as r
from ..proto.fetch import FetchAtt
from ..proto.response import Atom

if TYPE_CHECKING:
    from ..session import Session

BATCH = 64
_VIEW_ONLY = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "EMAILID"})
_RAW = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE"})


def _flags(entry: MailboxEntry) -> list[Atom]:
    return [Atom(f) for f in imap_flags(entry.flags, entry.keywords)]


def flags_response(s: Session, msn: int, uid: int) -> bytes:
    """``* msn FETCH (UID u FLAGS (...) [MODSEQ (m)])`` for a flag change."""
    assert s.view is not None
    entry = s.view.entries[uid]
    items: list[tuple[str, object]] = [("UID", uid), ("FLAGS", _flags(entry))]
    if s.condstore:
        items.append(("MODSEQ", [entry.modseq]))
    return r.fetch(msn, items, utf8=s.utf8)


class _Loaded:
    """What one message needs beyond the view: its row, raw bytes, MIME tree (lazily)."""

    __slots__ = ("message", "raw", "_tree")

    def __init__(self, message: Message | None, raw: bytes | None) -> None:
        self.message = message
        self.raw = raw
        self._tree: MimePart | None = None

    @property
    def tree(self) -> MimePart:
        if self._tree is None:
            assert self.message is not None
            self._tree = MimePart.from_json(self.message.bodystructure())
        return self._tree


def _item(s: Session, att: FetchAtt, uid: int, entry: MailboxEntry, loaded: _Loaded) -> object:
    name = att.name
    if name == "UID":
        return uid
    if name == "FLAGS":
        return _flags(entry)
    if name == "INTERNALDATE":
        return r.internal_date(datetime.fromtimestamp(entry.received_at, s.zone))
    if name == "RFC822.SIZE":
        return entry.size
    if name == "MODSEQ":
        return [entry.modseq]
    if name == "EMAILID":
        return [Atom(f"M{entry.message_id}")]
    m = loaded.message
    if m is None:
        return None
    if name == "THREADID":
        return [Atom(f"T{m.thread_id}")]
    if name == "SAVEDATE":
        return None
    if name == "ENVELOPE":
        return envelope(m.envelope())
    if name in ("BODYSTRUCTURE", "BODY") and att.section is None:
        return body_structure(loaded.tree, extensible=name == "BODYSTRUCTURE")
    raw = loaded.raw or b""
    if name == "RFC822":
        return raw
    if name == "RFC822.HEADER":
        return raw[: m.header_size]
    if name == "RFC822.TEXT":
        return raw[m.header_size :]
    assert att.section is not None
    if name == "BODY":
        data = section_bytes(raw, loaded.tree, m.header_size, att.section)
        return None if data is None else partial(data, att.partial)
    data = binary_bytes(raw, loaded.tree, att.section)
    if name == "BINARY.SIZE":
        return None if data is None else len(data)
    if data is None:
        return None
    data = partial(data, att.partial)
    return r.Literal8(data) if b"\x00" in data else data


async def fetch(s: Session, cmd: c.Fetch) -> Ok:
    view = s.view
    assert view is not None
    uids = view.resolve(cmd.sequence, uid=cmd.uid, saved=s.saved_search)
    atts = list(cmd.attributes)
    names = {a.name for a in atts}
    if cmd.changed_since is not None:
        s.condstore = True
        uids = [u for u in uids if view.entries[u].modseq > cmd.changed_since]
        if cmd.vanished:
            gone = view.missing(cmd.sequence)
            if gone.ranges:
                s.untagged(Atom("VANISHED"), [Atom("EARLIER")], Atom(str(gone)))
    if cmd.uid and "UID" not in names:
        atts.insert(0, FetchAtt("UID"))
    if s.condstore and "MODSEQ" not in names:
        atts.append(FetchAtt("MODSEQ"))
    need_row = not names <= _VIEW_ONLY
    need_raw = bool(names & _RAW) or any(a.section is not None for a in atts)
    if any(a.sets_seen for a in atts) and not view.readonly and "s" in view.rights:
        await _mark_seen(s, uids)
        if "FLAGS" not in names:
            atts.append(FetchAtt("FLAGS"))
    tenant = s.tenant_id
    for i in range(0, len(uids), BATCH):
        chunk = [u for u in uids[i : i + BATCH] if u in view.entries]
        rows: dict[int, Message] = {}
        if need_row:
            ids = [view.entries[u].message_id for u in chunk]
            rows = {m.id: m for m in await s.deps.reader.messages(view.mailbox.account_id, ids)}
        for uid in chunk:
            entry = view.entries[uid]
            row = rows.get(entry.message_id)
            raw = (
                await s.deps.reader.message_bytes(tenant, row.blob_id) if need_raw and row else None
            )
            loaded = _Loaded(row, raw)
            items: list[tuple[str, Any]] = [
                (a.response_name(), _item(s, a, uid, entry, loaded)) for a in atts
            ]
            msn = view.msn(uid)
            if msn is not None:
                s.send(r.fetch(msn, items, utf8=s.utf8))
        await s.flush()
    return Ok()


async def _mark_seen(s: Session, uids: list[int]) -> None:
    view = s.view
    assert view is not None
    unseen = [u for u in uids if not view.entries[u].flags & SEEN]
    if not unseen:
        return
    by_mid = {view.entries[u].message_id: u for u in unseen}
    updated, _failed = await msg.do_set_flags(
        s.deps.ctx, view.mailbox.account_id, list(by_mid), add=SEEN
    )
    for mid, flags, keywords, modseq in updated:
        view.set_flags(by_mid[mid], flags, keywords, modseq)
