"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 §3.1.4 CHANGEDSINCE,
§3.2.6 VANISHED; RFC 8474 EMAILID/THREADID).

Invariants:

* Metadata-only fetches (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ, EMAILID) are answered
  from the session view without touching the store; message rows and blobs are read in batches
  of :data:`BATCH` (8× that when no message bytes are needed) only when an attribute needs
  them, and output is flushed after a batch once :data:`FLUSH_BYTES` are buffered, so memory
  stays bounded on ``FETCH 1:* BODY[]``.
* The immutable part of a message (blob id, header size, structure, rendered ENVELOPE) comes
  from the server's :class:`~..msgcache.MessageCache` when present; only THREADID needs the
  current row.
* Fetching a non-PEEK body section of an unseen message sets ``\\Seen`` through
  ``actions.messages.do_set_flags`` *before* answering, and the response then includes FLAGS
  (RFC 9051 §6.4.5).
* UID FETCH always returns UID; with CONDSTORE active every response has MODSEQ
  (RFC 7162 §3.1.4.1).
* Each response line is built from a plan (:class:`_Plan`, one per distinct request shape,
  shared by all sessions): one renderer per attribute, chosen once, with the item name
  pre-encoded; the common attributes (UID, FLAGS, ENVELOPE, RFC822.SIZE, MODSEQ, EMAILID)
  render straight to wire bytes, the rest through :func:`_item` and the generic
  ``response.render`` — the bytes are the same either way.
* When every attribute is one of those (:data:`_FROM_ENTRY`: a function of the view entry and
  the message's immutable part only), the rendered item list and its response line are kept
  on the cached message with the entry object they came from
  (``StaticMessage.fetched_line``) and reused while the view holds that same entry: repeated
  ``FETCH 1:* (FLAGS ENVELOPE)`` from many sessions renders each message once per flag
  change, not once per command (the line again only when its sequence number differs).
* A fetch of the whole mailbox with such an item list goes further: the last answer of any
  session is kept whole (``MessageCache.range_lines``) and reused line by line where the
  view holds the same UID list and entry objects, so a resync of 10,000 messages costs a
  comparison of two lists and the changed lines, not 10,000 lookups (28 -> 6-13 ms here).
* A long answer (:data:`RANGE_MIN` messages or more) is long work (``core.turns``): it
  starts, and continues after each batch read and each :data:`RENDER_STEP` freshly rendered
  lines, only when the other sessions' ready commands have run (or after a bounded wait), so
  a short command does not queue behind its steps; a kept answer is sent in parts with a
  plain turn between them (a part costs less than a short command's step).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from rongmail.actions import messages as msg
from rongmail.core.flags import SEEN, imap_flags
from rongmail.core.models import MailboxEntry
from rongmail.core.turns import LongWork

from ..base import Ok
from ..message import binary_bytes, body_structure, partial, section_bytes
from ..msgcache import StaticMessage
from ..proto import commands as c
from ..proto import response as r
from ..proto.fetch import FetchAtt
from ..proto.response import Atom

if TYPE_CHECKING:
    from ..session import Session

BATCH = 64
#: Whole-mailbox answers at least this long are kept for reuse (``MessageCache.range_lines``).
RANGE_MIN = 256
#: lines rendered afresh in one step of the event loop (about 1.5 ms of ENVELOPEs); between
#: steps the answer waits for a background turn (``core.turns``)
RENDER_STEP = 64
#: how long (seconds) a whole-mailbox fetch waits for another session's rendering of the same
#: answer before it renders its own (``MessageCache.wait_building``)
BUILD_WAIT = 2.0
#: Output buffered before the handler lets the shell write it (bounded memory, few syscalls).
FLUSH_BYTES = 256 * 1024
_VIEW_ONLY = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "EMAILID"})
_RAW = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE"})
#: Attributes rendered from the view entry and the immutable message part alone.
_FROM_ENTRY = frozenset({"UID", "FLAGS", "RFC822.SIZE", "MODSEQ", "EMAILID", "ENVELOPE"})


def _flags(entry: MailboxEntry) -> r.Rendered:
    return _flag_list(entry.flags, entry.keywords)


@lru_cache(maxsize=4096)
def _flag_list(bits: int, keywords: frozenset[str]) -> r.Rendered:
    """The rendered flag list of one (flags, keywords) combination (few distinct ones)."""
    return r.Rendered(r.render([Atom(f) for f in imap_flags(bits, keywords)]))


def flags_response(s: Session, msn: int, uid: int) -> bytes:
    """``* msn FETCH (UID u FLAGS (...) [MODSEQ (m)])`` for a flag change: the bytes
    ``response.fetch`` renders for those items, built directly (every other session on the
    mailbox sends one per changed message)."""
    assert s.view is not None
    entry = s.view.entries[uid]
    flags = _flag_list(entry.flags, entry.keywords)
    if s.condstore:
        return b"* %d FETCH (UID %d FLAGS %b MODSEQ (%d))\r\n" % (msn, uid, flags, entry.modseq)
    return b"* %d FETCH (UID %d FLAGS %b)\r\n" % (msn, uid, flags)


class _Loaded:
    """What one message needs beyond the view: its immutable part, raw bytes, and the thread
    id when THREADID was asked for (the only mutable row field FETCH reads)."""

    __slots__ = ("static", "raw", "thread_id")

    def __init__(
        self, static: StaticMessage | None, raw: bytes | None, thread_id: int | None = None
    ) -> None:
        self.static = static
        self.raw = raw
        self.thread_id = thread_id


#: Renders one attribute of one message to wire bytes, item name included.
_Renderer = Callable[[int, MailboxEntry, _Loaded], bytes]


class _Plan:
    """Everything FETCH decides from the request alone, built once per distinct request.

    ``atts``: the attributes answered, in order (UID first for UID FETCH, MODSEQ appended
    with CONDSTORE active, FLAGS appended when a non-PEEK body fetch sets ``\\Seen``);
    ``renderers``: one per attribute (see the module invariants); ``reuse_key``: set when the
    rendered item list may be kept on the cached message (every attribute is in
    :data:`_FROM_ENTRY`). A pure function of its arguments (``_plan_for`` caches it), so equal
    requests share one plan: clients repeat a handful of attribute lists all day.
    """

    __slots__ = ("atts", "need_row", "need_raw", "need_thread", "sets_seen", "renderers",
                 "reuse_key")  # fmt: skip

    def __init__(
        self,
        attributes: tuple[FetchAtt, ...],
        uid: bool,
        condstore: bool,
        may_set_seen: bool,
        utf8: bool,
        zone: tzinfo,
    ) -> None:
        atts = list(attributes)
        names = {a.name for a in atts}
        if uid and "UID" not in names:
            atts.insert(0, FetchAtt("UID"))
        if condstore and "MODSEQ" not in names:
            atts.append(FetchAtt("MODSEQ"))
        self.need_row = not names <= _VIEW_ONLY
        self.need_raw = bool(names & _RAW) or any(a.section is not None for a in atts)
        self.sets_seen = may_set_seen and any(a.sets_seen for a in atts)
        if self.sets_seen and "FLAGS" not in names:
            atts.append(FetchAtt("FLAGS"))
        self.need_thread = "THREADID" in names
        self.atts = tuple(atts)
        self.renderers = [_renderer(att, utf8, zone) for att in atts]
        self.reuse_key = (
            (utf8, tuple(a.response_name() for a in atts))
            if self.need_row and all(a.name in _FROM_ENTRY and a.section is None for a in atts)
            else None
        )


#: Header field name characters beyond which a request's plan is built but not kept (the
#: client chooses them: a cache entry must not pin a 64 KB command line).
_PLAN_FIELDS_MAX = 1024


#: The shared :class:`_Plan` of one request shape (bounded: least recently used go).
_plan_for = lru_cache(maxsize=256)(_Plan)


def _plan(
    attributes: tuple[FetchAtt, ...],
    uid: bool,
    condstore: bool,
    may_set_seen: bool,
    utf8: bool,
    zone: tzinfo,
) -> _Plan:
    """The :class:`_Plan` of one request: the shared one unless it names unusually many
    header fields (``BODY[HEADER.FIELDS (...)]``)."""
    fields = sum(len(f) for a in attributes if a.section is not None for f in a.section.fields)
    make = _plan_for if fields <= _PLAN_FIELDS_MAX else _Plan
    return make(attributes, uid, condstore, may_set_seen, utf8, zone)


def _renderer(att: FetchAtt, utf8: bool, zone: tzinfo) -> _Renderer:
    p = att.response_name().encode("ascii") + b" "
    name = att.name

    def uid_(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return b"%b%d" % (p, uid)

    def flags(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return p + _flag_list(e.flags, e.keywords)

    def size(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return b"%b%d" % (p, e.size)

    def modseq(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return b"%b(%d)" % (p, e.modseq)

    def emailid(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return b"%b(M%d)" % (p, e.message_id)

    def envelope(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return p + (b"NIL" if ld.static is None else ld.static.envelope(utf8=utf8))

    def generic(uid: int, e: MailboxEntry, ld: _Loaded) -> bytes:
        return p + r.render(_item(att, uid, e, ld, utf8, zone), utf8=utf8)

    fast = {"UID": uid_, "FLAGS": flags, "RFC822.SIZE": size, "MODSEQ": modseq,
            "EMAILID": emailid, "ENVELOPE": envelope}  # fmt: skip
    return fast.get(name, generic)


def _item(
    att: FetchAtt, uid: int, entry: MailboxEntry, loaded: _Loaded, utf8: bool, zone: tzinfo
) -> object:
    name = att.name
    if name == "UID":
        return uid
    if name == "FLAGS":
        return _flags(entry)
    if name == "INTERNALDATE":
        return r.internal_date(datetime.fromtimestamp(entry.received_at, zone))
    if name == "RFC822.SIZE":
        return entry.size
    if name == "MODSEQ":
        return [entry.modseq]
    if name == "EMAILID":
        return [Atom(f"M{entry.message_id}")]
    m = loaded.static
    if m is None:
        return None
    if name == "THREADID":
        return None if loaded.thread_id is None else [Atom(f"T{loaded.thread_id}")]
    if name == "SAVEDATE":
        return None
    if name == "ENVELOPE":
        return m.envelope(utf8=utf8)
    if name in ("BODYSTRUCTURE", "BODY") and att.section is None:
        return body_structure(m.tree, extensible=name == "BODYSTRUCTURE")
    raw = loaded.raw or b""
    if name == "RFC822":
        return raw
    if name == "RFC822.HEADER":
        return raw[: m.header_size]
    if name == "RFC822.TEXT":
        return raw[m.header_size :]
    assert att.section is not None
    tree = m.tree if att.section.part else None
    if name == "BODY":
        data = section_bytes(raw, tree, m.header_size, att.section)
        return None if data is None else partial(data, att.partial)
    data = binary_bytes(raw, tree, att.section)
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
    long = LongWork()  # a long answer steps aside for short commands (``core.turns``)
    if len(uids) >= RANGE_MIN:
        await long.turn()  # and starts after the ready ones
    if cmd.changed_since is not None:
        s.condstore = True
        uids = [u for u in uids if view.entries[u].modseq > cmd.changed_since]
        if cmd.vanished:
            gone = view.missing(cmd.sequence)
            if gone.ranges:
                s.untagged(Atom("VANISHED"), [Atom("EARLIER")], Atom(str(gone)))
    utf8 = s.utf8
    plan = _plan(cmd.attributes, cmd.uid, s.condstore,
                 not view.readonly and "s" in view.rights, utf8, s.zone)  # fmt: skip
    if plan.sets_seen:
        await _mark_seen(s, uids)
    cache = s.deps.messages
    mailbox = view.mailbox
    reuse_key = plan.reuse_key
    # A whole-mailbox fetch of entry-only items (``FETCH 1:* (FLAGS ENVELOPE)``, a client's
    # resync): the last such answer of any session, kept by the message cache, is reused line
    # by line where the view holds the same entry objects (see ``MessageCache.range_lines``)
    entries_now: list[MailboxEntry] | None = None
    if reuse_key is not None and len(uids) >= RANGE_MIN and len(uids) == len(view.uids):
        # another session rendering this very answer: wait, then reuse its lines
        await cache.wait_building(mailbox, reuse_key, BUILD_WAIT)
        entries_now = list(map(view.entries.__getitem__, uids))
        kept = cache.range_lines(mailbox, reuse_key, uids, entries_now)
        if kept is not None:
            lines, changed, size = kept
            if changed:
                fresh: list[bytes] = []
                for i in range(0, len(changed), BATCH * 8):
                    part = [uids[k] for k in changed[i : i + BATCH * 8]]
                    fresh.extend(await _batch_lines(s, plan, part, long))
                if len(fresh) == len(changed):
                    size += sum(map(len, fresh)) - sum(len(lines[k]) for k in changed)
                    for k, line in zip(changed, fresh, strict=True):
                        lines[k] = line
                    cache.keep_range(mailbox, reuse_key, uids, entries_now, lines, size)
                else:  # a row vanished under us: answer the slow way
                    lines = []
            if lines:
                await _send_lines(s, lines)
                return Ok()
    collected: list[bytes] | None = [] if entries_now is not None else None
    building = (cache.start_building(mailbox, reuse_key, long.hurry)
                if entries_now is not None else None)
    try:
        await _render_all(s, plan, uids, long, collected)
    finally:
        if building is not None:
            building()
    if collected is not None and entries_now is not None and len(collected) == len(uids):
        cache.keep_range(mailbox, reuse_key, uids, entries_now, collected)
    return Ok()


async def _render_all(s: Session, plan: _Plan, uids: list[int], long: LongWork,
                      collected: list[bytes] | None) -> None:
    """Render and send the lines of ``uids`` batch by batch (into ``collected`` too)."""
    buffered = 0
    batch = BATCH if plan.need_raw else 8 * BATCH  # rows only: fewer, larger store reads
    for i in range(0, len(uids), batch):
        lines = await _batch_lines(s, plan, uids[i : i + batch], long)
        if collected is not None:
            collected.extend(lines)
        if lines:
            out = b"".join(lines)
            buffered += len(out)
            s.send(out)
        if buffered >= FLUSH_BYTES:
            await s.flush()
            buffered = 0
        if i + batch < len(uids):
            await long.turn()


async def _send_lines(s: Session, lines: list[bytes]) -> None:
    """Hand already rendered ``lines`` to the shell in parts of about :data:`FLUSH_BYTES`,
    with a plain turn between parts: a part costs the loop a join and a socket write (about
    0.3 ms for 256 KB), less than the short commands' own steps, so it does not wait for the
    loop's idle moments as rendering does (a 4 MB answer would wait 16 of them)."""
    step = max(1, FLUSH_BYTES // max(1, len(lines[0])))
    for i in range(0, len(lines), step):
        if i:
            await asyncio.sleep(0)
        s.send(b"".join(lines[i : i + step]))
        if i + step < len(lines):
            await s.flush()


async def _batch_lines(s: Session, plan: _Plan, chunk_uids: list[int], long: LongWork
                       ) -> list[bytes]:
    """The ``* n FETCH (...)`` lines of ``chunk_uids`` (ascending UIDs of the view), reading
    the rows and blobs they need; a UID the view no longer holds is skipped."""
    view = s.view
    assert view is not None
    need_row, need_raw, need_thread = plan.need_row, plan.need_raw, plan.need_thread
    tenant = s.tenant_id
    cache = s.deps.messages
    mailbox = view.mailbox
    renderers = plan.renderers
    # the items depend on (entry, immutable part) only: rendered item lists may be reused
    reuse_key = plan.reuse_key
    pos = 0
    chunk = [u for u in chunk_uids if u in view.entries]
    statics: dict[int, StaticMessage] = {}
    threads: dict[int, int] = {}
    if need_row:
        if need_thread:
            missing = chunk
        else:
            statics, missing = cache.get_many(
                mailbox, [(u, view.entries[u].message_id) for u in chunk])
        if missing:
            ids = [view.entries[u].message_id for u in missing]
            rows = {m.id: m for m in await s.deps.reader.message_parts(mailbox.account_id, ids)}
            for uid in missing:
                row = rows.get(view.entries[uid].message_id)
                if row is not None:
                    # into the cache at once, before any turn: a concurrent cold fetch of
                    # another session then finds them instead of reading and rendering again
                    statics[uid] = cache.put(mailbox, uid, row)
                    threads[uid] = row.thread_id
    all_uids = view.uids  # read per batch: the view may copy it on write (set_flags)
    n_all = len(all_uids)
    entries = view.entries
    lines: list[bytes] = []
    rendered = 0
    for uid in chunk:
        if rendered >= RENDER_STEP:
            rendered = 0
            await long.turn()
            all_uids, entries, pos = view.uids, view.entries, 0
            n_all = len(all_uids)
        entry = entries.get(uid)
        if entry is None:
            continue
        sm = statics.get(uid)
        # the sequence number: ``uids`` ascend (``view.resolve``), so each search starts
        # where the last ended; a miss searches the whole list again
        pos = bisect_left(all_uids, uid, pos)
        if pos >= n_all or all_uids[pos] != uid:
            pos = bisect_left(all_uids, uid)
            if pos >= n_all or all_uids[pos] != uid:
                continue
        if reuse_key is not None and sm is not None:
            line = sm.fetched_line(reuse_key, entry, pos + 1)
            if line is not None:
                lines.append(line)
                continue
        raw = None
        if need_raw and sm is not None:
            raw = await s.deps.reader.message_bytes(tenant, sm.blob_id, size_hint=entry.size)
        rendered += 1
        loaded = _Loaded(sm, raw, threads.get(uid))
        body = b" ".join([f(uid, entry, loaded) for f in renderers])
        line = b"* %d FETCH (%b)\r\n" % (pos + 1, body)
        if reuse_key is not None and sm is not None:
            sm.keep_fetched(reuse_key, entry, pos + 1, line)
        lines.append(line)
    return lines


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
        s.deps.listings.remember(view.mailbox, view.entries[by_mid[mid]])
