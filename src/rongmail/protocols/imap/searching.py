"""Evaluate a SEARCH key tree against the selected mailbox (RFC 9051 §6.4.4).

Role: metadata criteria (flags, sequence sets, UIDs, sizes, internal dates, MODSEQ, WITHIN)
are answered from the session's :class:`~.view.SelectedView`; text criteria use the store's
full-text index through ``Reader.search_text`` (bigram FTS: every substring of one or more
characters of any script is found, so ``TEXT "发票"`` finds Chinese mail); sent dates and
THREADID read message rows once per search.

Invariants: results are sets of UIDs of the view; a key never matches a message the client
has not been told about; text queries with no searchable characters match everything (as an
empty substring does); nothing here writes.
"""

from __future__ import annotations

import time
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

from rongmail.core.flags import IMAP_FLAGS
from rongmail.core.models import Message

from .proto import search as q

if TYPE_CHECKING:
    from .session import Session
    from .view import SelectedView

__all__ = ["Evaluator"]

#: IMAP header name -> full-text field of the store (``store.sql.mail.SEARCH_FIELDS``).
_FTS_FIELDS = {"FROM": "from_", "TO": "to_", "CC": "cc", "BCC": "bcc", "SUBJECT": "subject"}


def _day(ts: int | None, zone: tzinfo) -> date | None:
    return None if ts is None else datetime.fromtimestamp(ts, zone).date()


class Evaluator:
    """One search over one view. Text lookups and message rows are cached per search."""

    def __init__(self, s: Session, view: SelectedView) -> None:
        self.s = s
        self.view = view
        self.all = set(view.uids)
        self.uid_of = {e.message_id: u for u, e in view.entries.items()}
        self._messages: dict[int, Message] | None = None
        self.max_modseq_key = False  # a MODSEQ key was used (RFC 7162 §3.1.5 reply)

    async def run(self, key: q.SearchKey) -> list[int]:
        return sorted(await self.eval(key))

    async def _rows(self) -> dict[int, Message]:
        if self._messages is None:
            ids = [e.message_id for e in self.view.entries.values()]
            rows = await self.s.deps.reader.messages(self.view.mailbox.account_id, ids)
            self._messages = {m.id: m for m in rows}
        return self._messages

    async def _text(self, value: str, field: str | None) -> set[int]:
        ids = await self.s.deps.reader.search_text(
            self.view.mailbox.account_id, value, field=field, mailbox_id=self.view.mailbox.id
        )
        if ids is None:
            return set(self.all)
        return {self.uid_of[m] for m in ids if m in self.uid_of}

    async def eval(self, key: q.SearchKey) -> set[int]:
        v = self.view
        match key:
            case q.All():
                return set(self.all)
            case q.And(keys):
                out = set(self.all)
                for k in keys:
                    out &= await self.eval(k)
                    if not out:
                        break
                return out
            case q.Or(left, right):
                return await self.eval(left) | await self.eval(right)
            case q.Not(inner):
                return self.all - await self.eval(inner)
            case q.Flag(flag, present):
                return self._flag(flag, present)
            case q.Sequence(seq, uid):
                return set(v.resolve(seq, uid=uid, saved=self.s.saved_search))
            case q.Size(op, size):
                if op == "larger":
                    return {u for u, e in v.entries.items() if e.size > size}
                return {u for u, e in v.entries.items() if e.size < size}
            case q.ModSeq(modseq, _entry):
                self.max_modseq_key = True
                return {u for u, e in v.entries.items() if e.modseq >= modseq}
            case q.Age(op, seconds):
                limit = time.time() - seconds
                if op == "older":
                    return {u for u, e in v.entries.items() if e.received_at <= limit}
                return {u for u, e in v.entries.items() if e.received_at >= limit}
            case q.Date(field, op, day):
                return await self._date(field, op, day)
            case q.Header(name, value):
                if name in _FTS_FIELDS:
                    return await self._text(value, _FTS_FIELDS[name])
                return await self._header(name, value)
            case q.Body(value):
                return await self._text(value, "body")
            case q.Text(value):
                return await self._text(value, None)
            case q.ObjectId("EMAILID", value):
                return {u for u, e in v.entries.items() if f"M{e.message_id}" == value}
            case q.ObjectId(_, value):
                rows = await self._rows()
                return {
                    self.uid_of[m.id]
                    for m in rows.values()
                    if f"T{m.thread_id}" == value and m.id in self.uid_of
                }
        return set()

    def _flag(self, flag: str, present: bool) -> set[int]:
        entries = self.view.entries
        low = flag.lower()
        if low == "\\recent":  # no session ever sees \Recent (RFC 9051 drops it)
            return set() if present else set(self.all)
        bit = IMAP_FLAGS.get(low)
        if bit is not None:
            return {u for u, e in entries.items() if bool(e.flags & bit) == present}
        return {u for u, e in entries.items() if (low in e.keywords) == present}

    async def _date(self, field: str, op: str, day: date) -> set[int]:
        if field == "internal":
            stamps = {u: e.received_at for u, e in self.view.entries.items()}
        else:
            rows = await self._rows()
            stamps = {
                self.uid_of[m.id]: m.sent_at or m.received_at
                for m in rows.values()
                if m.id in self.uid_of
            }
        out = set()
        for uid, ts in stamps.items():
            d = _day(ts, self.s.zone)
            if d is None:
                continue
            if (
                (op == "before" and d < day)
                or (op == "on" and d == day)
                or (op == "since" and d >= day)
            ):
                out.add(uid)
        return out

    async def _header(self, name: str, value: str) -> set[int]:
        """Headers outside the index: read each message's header block (slow path)."""
        rows = await self._rows()
        tenant = self.s.tenant_id
        needle = value.lower()
        prefix = name.lower().encode("ascii", "replace") + b":"
        out = set()
        for m in rows.values():
            if m.id not in self.uid_of:
                continue
            raw = await self.s.deps.reader.message_bytes(tenant, m.blob_id)
            for line in _unfolded(raw[: m.header_size]):
                if line[: len(prefix)].lower() == prefix:
                    text = line[len(prefix) :].decode("utf-8", "replace").lower()
                    if needle in text:
                        out.add(self.uid_of[m.id])
                        break
        return out


def _unfolded(header: bytes) -> list[bytes]:
    lines: list[bytes] = []
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b" " + line.strip()
        elif line:
            lines.append(line)
    return lines
