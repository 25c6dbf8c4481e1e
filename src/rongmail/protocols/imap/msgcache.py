"""What FETCH needs of a message that never changes, shared by all sessions of one server.

Role: ``FETCH n BODY[]`` needs a message's blob id and header size, ``FETCH 1:* (FLAGS
ENVELOPE)`` its ENVELOPE; reading the message row for each (and parsing the envelope's
address lists again, RFC 9051 §7.5.2) dominated those commands. :class:`MessageCache` keeps
these immutable parts per message and the rendered ENVELOPE bytes, so a repeated FETCH costs
no store read and no address parsing.

Invariants:

* Keyed by (mailbox id, UIDVALIDITY, UID): RFC 9051 §2.3.1.1 guarantees that a UID names the
  same message for as long as the mailbox keeps its UIDVALIDITY, and UIDs are never reused.
  The stored message id is compared as well, so even a reused row id cannot serve another
  message's data.
* Only fields that never change after delivery are kept (blob id, header size, body
  structure and envelope JSON); flags, keywords, modseq, thread and mailbox memberships always
  come from the view or the store. The one exception, the last rendered FETCH item list and
  its response line, is keyed by the identity of the (immutable) view entry it was rendered
  from, so new flags or a new modseq never meet old bytes.
* Bounded by count (:data:`MAX_ENTRIES`) and by bytes (:data:`MAX_BYTES`), least recently
  used dropped first. An entry's bytes are estimated when it is added, from its stored JSON
  (:func:`entry_cost`: the structure, and the envelope three times: its JSON, its rendered
  form and the kept FETCH line that holds it), so a mailbox of messages with huge envelopes or
  hundreds of parts holds fewer entries instead of more memory. A typical entry is 1.5–2 KB
  (10,000 generated 2–8 KB messages: 19 MB by the estimate).
* Nothing is kept twice: the kept FETCH line stands for its item list (sliced out of it when the
  sequence number changed), and an envelope whose rendering is plain ASCII (the usual case:
  non-ASCII header text is stored as RFC 2047 encoded words) is the same in both UTF-8 modes
  (``response.string`` quotes ASCII alike), so one rendering serves both and the envelope JSON
  is dropped.
* Whole-mailbox answers (:meth:`MessageCache.range_lines`): the last answer to a fetch of
  every message of a mailbox with one entry-only item list is kept as (UIDs, the view entry
  objects, the lines). A later such fetch reuses line *i* when its view has the same UID list
  (so the same sequence numbers) and the very same entry object at *i*; the other lines are
  rendered again. Bounded by :data:`MAX_RANGE_LINES` lines and :data:`MAX_RANGE_BYTES` bytes
  (the lines' lengths, although they are mostly the same objects as the entries' kept lines)
  in all.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from itertools import compress, count
from operator import is_not
from typing import Any, NamedTuple

from rongmail.core.models import Mailbox, MailboxEntry, Message, MessageParts
from rongmail.mime.model import MimePart

from .message import envelope_bytes
from .proto import response as r

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "KeptRange", "MessageCache", "StaticMessage", "entry_cost"]

MAX_ENTRIES = 10_000
#: Estimated bytes of all entries together (:func:`entry_cost`), per serving process.
MAX_BYTES = 32 << 20
#: Lines of kept whole-mailbox answers, all mailboxes together (references to bytes that
#: mostly also sit in the messages' kept lines).
MAX_RANGE_LINES = 60_000
#: Bytes of those lines, all mailboxes together.
MAX_RANGE_BYTES = 32 << 20
#: Per-entry bytes besides the stored strings: the objects, the LRU slot and its key.
ENTRY_OVERHEAD = 400


def entry_cost(m: Message | MessageParts) -> int:
    """Estimated bytes an entry for ``m`` holds once used: its objects, blob id and structure
    JSON, and the envelope three times (JSON, rendering, kept FETCH line)."""
    return (ENTRY_OVERHEAD + len(m.blob_id) + len(m.bodystructure_json)
            + 3 * len(m.envelope_json))


class StaticMessage:
    """The immutable part of one message, with lazily built derived forms."""

    __slots__ = ("message_id", "blob_id", "header_size", "cost", "_bodystructure",
                 "_envelope", "_tree", "_env7", "_env8", "_fetched")  # fmt: skip

    def __init__(self, m: Message | MessageParts) -> None:
        self.message_id = m.id
        self.blob_id = m.blob_id
        self.header_size = m.header_size
        #: estimated bytes (:func:`entry_cost`), counted by the cache while the entry is in it
        self.cost = entry_cost(m)
        self._bodystructure = m.bodystructure_json
        #: the envelope JSON; ``None`` once one rendering serves both UTF-8 modes
        self._envelope: str | None = m.envelope_json
        self._tree: MimePart | None = None
        #: the rendered ENVELOPE without and with UTF-8 (RFC 6855)
        self._env7: r.Rendered | None = None
        self._env8: r.Rendered | None = None
        #: the last rendered FETCH item list: (plan key, the view entry it was built from, the
        #: sequence number and the ``* n FETCH (items)`` line built at it)
        self._fetched: tuple[object, MailboxEntry, int, bytes] | None = None

    @property
    def tree(self) -> MimePart:
        """The MIME tree with byte offsets (parsed from the stored JSON on first use)."""
        if self._tree is None:
            self._tree = MimePart.from_json(json.loads(self._bodystructure))
        return self._tree

    def envelope(self, *, utf8: bool) -> r.Rendered:
        """The ENVELOPE value, rendered once per ``utf8`` mode (RFC 6855 changes quoting), or
        once for both when the rendering is plain ASCII (then no value had a non-ASCII byte,
        and ``response.string`` quotes or literalizes ASCII alike in both modes)."""
        out = self._env8 if utf8 else self._env7
        if out is None:
            assert self._envelope is not None  # dropped only once both modes are set
            env: dict[str, Any] = json.loads(self._envelope)
            out = r.Rendered(envelope_bytes(env, utf8=utf8))
            if out.isascii():
                self._env7 = self._env8 = out
                self._envelope = None
            elif utf8:
                self._env8 = out
            else:
                self._env7 = out
        return out

    def fetched_line(self, key: object, entry: MailboxEntry, msn: int) -> bytes | None:
        """The ``* msn FETCH (...)`` line of the item list last kept for ``key`` and this very
        ``entry`` object, if any (the kept line when ``msn`` is the same, else one built from
        the kept items and kept in its place).

        Sound because view entries are immutable and replaced on every change (a new object
        for new flags or modseq), ``key`` names attributes that depend only on the entry and
        this immutable part (FETCH's plan decides which), and the line is a function of the
        item list and ``msn`` alone."""
        got = self._fetched
        if got is None or got[1] is not entry or not (got[0] is key or got[0] == key):
            return None
        if got[2] == msn:
            return got[3]
        # the items are the kept line between "* <old msn> FETCH (" and ")\r\n"
        items = got[3][len(b"* %d FETCH (" % got[2]) : -3]
        line = b"* %d FETCH (%b)\r\n" % (msn, items)
        self._fetched = (got[0], entry, msn, line)
        return line

    def keep_fetched(self, key: object, entry: MailboxEntry, msn: int, line: bytes) -> None:
        """Remember one rendered FETCH item list by its line at ``msn``, which must be
        ``* msn FETCH (items)`` and CRLF (one per message: the latest wins)."""
        self._fetched = (key, entry, msn, line)


class KeptRange(NamedTuple):
    """A kept whole-mailbox answer as :meth:`MessageCache.range_lines` hands it out."""

    #: the lines (a copy when ``stale`` is not empty, so the caller may replace those)
    lines: list[bytes]
    #: positions whose line was rendered from another entry than the caller's
    stale: list[int]
    #: the kept lines' total length
    size: int


class MessageCache:
    """LRU of :class:`StaticMessage` by (mailbox id, UIDVALIDITY, UID)."""

    def __init__(self, max_entries: int = MAX_ENTRIES,
                 max_range_lines: int = MAX_RANGE_LINES, *, max_bytes: int = MAX_BYTES,
                 max_range_bytes: int = MAX_RANGE_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, int, int], StaticMessage] = OrderedDict()
        #: the summed ``cost`` of the entries
        self.bytes = 0
        self.max_range_lines = max_range_lines
        self.max_range_bytes = max_range_bytes
        #: (mailbox id, UIDVALIDITY, item-list key) -> (UIDs, entries, lines, their bytes)
        self._ranges: OrderedDict[
            tuple[int, int, object], tuple[list[int], list[MailboxEntry], list[bytes], int]
        ] = OrderedDict()
        self._range_lines = 0
        self._range_bytes = 0
        #: whole-mailbox answers being rendered afresh, by the key of ``_ranges`` (see
        #: :meth:`start_building`)
        self._building: dict[
            tuple[int, int, object], tuple[asyncio.Future[None], Callable[[], None] | None]
        ] = {}

    async def wait_building(self, mailbox: Mailbox, key: object, timeout: float) -> None:
        """If a session is rendering this whole-mailbox answer afresh, hurry it (a rendering
        others wait for is no longer background work) and wait for it, ``timeout`` seconds at
        most; the caller then finds its lines kept (:meth:`range_lines`) instead of rendering
        the same 10,000 messages again. When clients reconnect together (a server restart), a
        dozen cold ``FETCH 1:*`` of one mailbox otherwise each rendered it all, 0.9–1.7 s each
        under the mixed load against 0.25 s once one had kept it."""
        got = self._building.get((mailbox.id, mailbox.uidvalidity, key))
        if got is None:
            return
        fut, hurry = got
        if hurry is not None:
            hurry()
        await asyncio.wait({fut}, timeout=timeout)

    def start_building(self, mailbox: Mailbox, key: object,
                       hurry: Callable[[], None] | None = None) -> Callable[[], None] | None:
        """Note that the caller renders this whole-mailbox answer afresh (``hurry`` is called
        when another session waits for it). Returns the function that ends that (call it
        however the rendering ends: it wakes the waiters), or None when another session is
        rendering it already (the caller waited its time out)."""
        k = (mailbox.id, mailbox.uidvalidity, key)
        if k in self._building:
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._building[k] = (fut, hurry)

        def done() -> None:
            if self._building.get(k, (None,))[0] is fut:
                del self._building[k]
            if not fut.done():
                fut.set_result(None)

        return done

    def range_lines(
        self, mailbox: Mailbox, key: object, uids: list[int], entries: list[MailboxEntry]
    ) -> KeptRange | None:
        """The kept answer for the whole of ``uids`` with item list ``key``, and the positions
        whose entry is not the one it was rendered from (their lines are stale; the caller
        renders them and keeps the result). ``None`` when no answer for this very UID list is
        kept. The returned list is the caller's to change when any position is stale."""
        got = self._ranges.get((mailbox.id, mailbox.uidvalidity, key))
        if got is None or got[0] != uids:
            return None
        self._ranges.move_to_end((mailbox.id, mailbox.uidvalidity, key))
        stale = list(compress(count(), map(is_not, entries, got[1])))
        return KeptRange(list(got[2]) if stale else got[2], stale, got[3])

    def keep_range(self, mailbox: Mailbox, key: object, uids: list[int],
                   entries: list[MailboxEntry], lines: list[bytes],
                   size: int | None = None) -> None:
        """Keep a whole-mailbox answer: ``lines[i]`` was rendered from ``entries[i]`` at
        sequence number ``i + 1`` for UID ``uids[i]``. ``size`` is the lines' total length
        when the caller knows it (a kept answer with a few lines replaced: its old size
        adjusted by theirs); otherwise it is counted, which on a 10,000-line answer of
        scattered objects costs the loop about a millisecond."""
        k = (mailbox.id, mailbox.uidvalidity, key)
        old = self._ranges.pop(k, None)
        if old is not None:
            self._range_lines -= len(old[2])
            self._range_bytes -= old[3]
        if len(lines) > self.max_range_lines:
            return
        if size is None:
            size = sum(map(len, lines))
        if size > self.max_range_bytes:
            return
        self._ranges[k] = (uids, entries, lines, size)
        self._range_lines += len(lines)
        self._range_bytes += size
        while (self._range_lines > self.max_range_lines
               or self._range_bytes > self.max_range_bytes):
            _, dropped = self._ranges.popitem(last=False)
            self._range_lines -= len(dropped[2])
            self._range_bytes -= dropped[3]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, mailbox: Mailbox, uid: int, message_id: int) -> StaticMessage | None:
        key = (mailbox.id, mailbox.uidvalidity, uid)
        sm = self._entries.get(key)
        if sm is None or sm.message_id != message_id:
            return None
        self._entries.move_to_end(key)
        return sm

    def get_many(
        self, mailbox: Mailbox, wanted: list[tuple[int, int]]
    ) -> tuple[dict[int, StaticMessage], list[int]]:
        """:meth:`get` for many (uid, message id) pairs at once: (found by uid, missing uids)."""
        entries = self._entries
        touch = entries.move_to_end
        mbid, validity = mailbox.id, mailbox.uidvalidity
        found: dict[int, StaticMessage] = {}
        missing: list[int] = []
        for uid, message_id in wanted:
            key = (mbid, validity, uid)
            sm = entries.get(key)
            if sm is None or sm.message_id != message_id:
                missing.append(uid)
            else:
                touch(key)
                found[uid] = sm
        return found, missing

    def put(self, mailbox: Mailbox, uid: int, message: Message | MessageParts) -> StaticMessage:
        key = (mailbox.id, mailbox.uidvalidity, uid)
        entries = self._entries
        sm = entries.get(key)
        if sm is None or sm.message_id != message.id:
            if sm is not None:
                self.bytes -= sm.cost
            sm = StaticMessage(message)
            entries[key] = sm
            entries.move_to_end(key)
            self.bytes += sm.cost
            # the oldest first, never the entry just added (a single one over the budget is
            # still served, and dropped by the next)
            while len(entries) > self.max_entries or (
                    self.bytes > self.max_bytes and len(entries) > 1):
                _, dropped = entries.popitem(last=False)
                self.bytes -= dropped.cost
            return sm
        entries.move_to_end(key)
        return sm
