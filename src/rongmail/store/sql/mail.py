"""Mail operations: mailboxes, messages, flags, moves, expunges, the change log and search.

Invariants (checked by the storage contract suite on every backend):

* Every write op bumps ``account.modseq`` exactly once (:func:`bump`) and tags every row it
  touches and every change it logs with that value; ``mailbox.highestmodseq`` of each touched
  mailbox is set to it.
* UIDs in a mailbox strictly increase and are never reused within one ``uidvalidity``.
* A message row exists iff it is in at least one mailbox; removing its last membership deletes
  it (and its search rows) and releases its blob reference.
* ``account.used_bytes`` is the sum of the sizes of the account's messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rongmail.core import changes as ch
from rongmail.core.changes import Change
from rongmail.core.flags import SEEN, decode_keywords, encode_keywords
from rongmail.core.models import (
    AppendResult,
    Mailbox,
    MailboxCounts,
    MailboxEntry,
    Message,
    MessageParts,
)
from rongmail.errors import AlreadyExists, NotFound, QuotaExceeded, ValidationError
from rongmail.store.sql.blobs import put_inline
from rongmail.store.sql.q import Op, Q, QMany, batches, one, placeholders, scalar

MAILBOX_COLS = (
    "id, account_id, parent_id, name, role, uidvalidity, uidnext, highestmodseq, subscribed,"
    " sort_order"
)
MESSAGE_COLS = (
    "m.id, m.account_id, m.thread_id, m.blob_id, m.size, m.received_at, m.sent_at, m.flags,"
    " m.keywords, m.modseq, m.created_modseq, m.msgid, m.in_reply_to, m.refs, m.subject,"
    " m.from_addr, m.to_addr, m.cc_addr, m.bcc_addr, m.reply_to, m.sender, m.preview,"
    " m.has_attachment, m.header_size, m.bodystructure, m.envelope"
)
SEARCH_FIELDS = ("subject", "from_", "to_", "cc", "bcc", "body", "attachments")


def mailbox_row(r: Sequence[Any]) -> Mailbox:
    return Mailbox(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9])


def _addrs(s: str) -> tuple[tuple[str, str], ...]:
    return tuple((a[0], a[1]) for a in json.loads(s or "[]"))


def message_row(r: Sequence[Any], mailbox_ids: tuple[int, ...] = ()) -> Message:
    return Message(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
        decode_keywords(r[8]), r[9], r[10], r[11],
        tuple((r[12] or "").split()), tuple((r[13] or "").split()), r[14],
        _addrs(r[15]), _addrs(r[16]), _addrs(r[17]), _addrs(r[18]), _addrs(r[19]),
        _addrs(r[20]), r[21], bool(r[22]), r[23], r[24], r[25], mailbox_ids,
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """Everything stored for a new message, computed by the action from the parsed MIME."""

    blob_id: str
    size: int
    received_at: int
    sent_at: int | None
    msgid: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    base_subject: str
    is_reply: bool
    from_: str  # JSON lists of [name, email]
    to: str
    cc: str
    bcc: str
    reply_to: str
    sender: str
    preview: str
    has_attachment: bool
    header_size: int
    bodystructure: str
    envelope: str
    #: search tokens per field (``core.search_tokens.index_tokens``), keys = SEARCH_FIELDS
    search: dict[str, str]
    #: the body's sealed bytes when it is stored in ``blob_inline`` (``store.inline_blobs``):
    #: written with the ``blob_ref`` row, in the same transaction; None: a durable blob file
    blob_data: bytes | None = None


#: SQLite only (migration 0301): the next message id, above every id ever given. SQLite would
#: take the highest id left + 1 and so hand a deleted newest message's id, a JMAP Email id
#: clients saw destroyed, to the next message (NULL on an empty store: SQLite picks 1).
_NEXT_MESSAGE_ID = ("(SELECT MAX(v) + 1 FROM (SELECT MAX(id) AS v FROM message UNION ALL"
                    " SELECT value FROM id_high WHERE name = 'message'))")
#: SQLite only: raise the message high-water mark to the highest id before a delete.
_KEEP_MESSAGE_HIGH = ("INSERT INTO id_high (name, value) SELECT 'message', MAX(id) FROM message"
                      " WHERE 1 = 1 ON CONFLICT (name) DO UPDATE SET value ="
                      " MAX(id_high.value, excluded.value)")


# -- modseq and change log ------------------------------------------------------------------------

def bump(account_id: int) -> Op[int]:
    rows = yield Q(
        "UPDATE account SET modseq = modseq + 1 WHERE id = ? RETURNING modseq", (account_id,)
    )
    if not rows:
        raise NotFound(what=f"account {account_id}")
    return int(rows[0][0])


def log(changes: list[Change]) -> Op[None]:
    if not changes:
        return
    now = int(time.time())
    yield QMany(
        "INSERT INTO change_log (account_id, modseq, type, action, object_id, mailbox_id, uid,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.account_id, c.modseq, c.type, c.action, c.object_id, c.mailbox_id, c.uid, now)
         for c in changes],
    )


def touch_mailboxes(mailbox_ids: Iterable[int], modseq: int) -> Op[None]:
    ids = sorted(set(mailbox_ids))
    if ids:
        yield Q(
            f"UPDATE mailbox SET highestmodseq = ? WHERE id IN ({placeholders(len(ids))})",
            (modseq, *ids),
        )


def changes_since(account_id: int, modseq: int, limit: int = 10000) -> Op[list[Change]]:
    rows = yield Q(
        "SELECT account_id, modseq, type, action, object_id, mailbox_id, uid FROM change_log"
        " WHERE account_id = ? AND modseq > ? ORDER BY id LIMIT ?",
        (account_id, modseq, limit),
    )
    return [Change(*r) for r in rows]  # type: ignore[arg-type]


def oldest_change(account_id: int) -> Op[int]:
    """The lowest modseq the log still answers for: a state ``s`` can be caught up from the
    log iff ``s + 1 >= oldest_change`` (0: the whole history is there). After a prune it is
    the account's floor + 1 (``change_log_floor``, migration 0201), whether or not any row of
    the account is left; before any prune, the lowest modseq in the log."""
    floor = yield Q("SELECT modseq FROM change_log_floor WHERE account_id = ?", (account_id,))
    if floor:
        return int(floor[0][0]) + 1
    rows = yield Q("SELECT MIN(modseq) FROM change_log WHERE account_id = ?", (account_id,))
    return int(rows[0][0] or 0)


#: change-log rows looked at per :func:`prune_changes` transaction
PRUNE_BATCH = 5000


def prune_changes(before: int, limit: int = PRUNE_BATCH) -> Op[int]:
    """Delete the oldest log rows written before ``before`` (unix seconds), at most ``limit``,
    and raise each touched account's ``change_log_floor`` to the highest modseq deleted, in
    one transaction. Returns the rows deleted; 0 when the oldest row is younger.

    Reads the ``limit`` lowest ids (primary-key order, so no index on ``created_at`` and no
    scan of the young part of the table) and takes the run of them written before ``before``:
    ids follow insertion, so the run is the old end of the log. A row that got a low id but
    committed late (PostgreSQL) is young and kept by the ``created_at`` test of the delete.

    The row with the highest id is never deleted, however old: SQLite gives a new row the
    highest id + 1, and the change follower of every other process reads the log by id after
    the last one it saw, so a log pruned empty would restart its ids below that and the
    followers would miss every change until the ids caught up."""
    top = scalar((yield Q("SELECT MAX(id) FROM change_log")), None)
    rows = yield Q("SELECT id, account_id, modseq, created_at FROM change_log ORDER BY id"
                   " LIMIT ?", (limit,))
    floors: dict[int, int] = {}
    last = None
    for row_id, account_id, modseq, created_at in rows:
        if created_at >= before or row_id >= top:
            break
        last = row_id
        floors[account_id] = max(floors.get(account_id, 0), int(modseq))
    if last is None:
        return 0
    for account_id, modseq in sorted(floors.items()):
        yield Q("INSERT INTO change_log_floor (account_id, modseq) VALUES (?, ?)"
                " ON CONFLICT (account_id) DO UPDATE SET modseq = CASE"
                " WHEN excluded.modseq > change_log_floor.modseq THEN excluded.modseq"
                " ELSE change_log_floor.modseq END", (account_id, modseq))
    deleted = yield Q("DELETE FROM change_log WHERE id <= ? AND created_at < ? RETURNING 1",
                      (last, before))
    return len(deleted)


def account_modseq(account_id: int) -> Op[int]:
    rows = yield Q("SELECT modseq FROM account WHERE id = ?", (account_id,))
    if not rows:
        raise NotFound(what=f"account {account_id}")
    return int(rows[0][0])


# -- mailboxes ----------------------------------------------------------------------------------

def list_mailboxes(account_id: int) -> Op[list[Mailbox]]:
    rows = yield Q(
        f"SELECT {MAILBOX_COLS} FROM mailbox WHERE account_id = ? ORDER BY sort_order, id",
        (account_id,),
    )
    return [mailbox_row(r) for r in rows]


def get_mailbox(mailbox_id: int) -> Op[Mailbox | None]:
    r = one((yield Q(f"SELECT {MAILBOX_COLS} FROM mailbox WHERE id = ?", (mailbox_id,))))
    return mailbox_row(r) if r else None


def mailbox_by_role(account_id: int, role: str) -> Op[Mailbox | None]:
    r = one((yield Q(
        f"SELECT {MAILBOX_COLS} FROM mailbox WHERE account_id = ? AND role = ?",
        (account_id, role))))
    return mailbox_row(r) if r else None


def mailbox_counts(account_id: int) -> Op[dict[int, MailboxCounts]]:
    """Total/unseen/size per mailbox (one grouped query over the account)."""
    rows = yield Q(
        "SELECT mm.mailbox_id, COUNT(*), SUM(CASE WHEN (m.flags & ?) = 0 THEN 1 ELSE 0 END),"
        " SUM(m.size), COUNT(DISTINCT m.thread_id),"
        " COUNT(DISTINCT CASE WHEN (m.flags & ?) = 0 THEN m.thread_id END)"
        " FROM mailbox_message mm JOIN message m ON m.id = mm.message_id"
        " WHERE m.account_id = ? GROUP BY mm.mailbox_id",
        (SEEN, SEEN, account_id),
    )
    return {
        r[0]: MailboxCounts(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4]), int(r[5]))
        for r in rows
    }


def create_mailbox(
    account_id: int, name: str, parent_id: int, role: str | None, uidvalidity: int,
    *, subscribed: bool = True, sort_order: int = 0,
) -> Op[tuple[Mailbox, list[Change]]]:
    if parent_id:
        p = yield from get_mailbox(parent_id)
        if p is None or p.account_id != account_id:
            raise NotFound(what=f"mailbox {parent_id}")
    if (yield Q(
        "SELECT 1 FROM mailbox WHERE account_id = ? AND parent_id = ? AND name = ?",
        (account_id, parent_id, name),
    )):
        raise AlreadyExists(what=name)
    if role and (yield Q(
        "SELECT 1 FROM mailbox WHERE account_id = ? AND role = ?", (account_id, role)
    )):
        raise AlreadyExists(what=role)
    modseq = yield from bump(account_id)
    rows = yield Q(
        "INSERT INTO mailbox (account_id, parent_id, name, role, uidvalidity, highestmodseq,"
        " subscribed, sort_order, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {MAILBOX_COLS}",
        (account_id, parent_id, name, role, uidvalidity, modseq, int(subscribed), sort_order,
         int(time.time())),
    )
    mb = mailbox_row(rows[0])
    changes = [Change(account_id, modseq, ch.MAILBOX, "created", mb.id)]
    yield from log(changes)
    return mb, changes


def update_mailbox(
    mailbox_id: int, *, name: str | None = None, parent_id: int | None = None,
    subscribed: bool | None = None, sort_order: int | None = None, role: str | None = None,
    clear_role: bool = False,
) -> Op[tuple[Mailbox, list[Change]]]:
    mb = yield from get_mailbox(mailbox_id)
    if mb is None:
        raise NotFound(what=f"mailbox {mailbox_id}")
    new_name = mb.name if name is None else name
    new_parent = mb.parent_id if parent_id is None else parent_id
    if (new_name, new_parent) != (mb.name, mb.parent_id):
        if (yield Q(
            "SELECT 1 FROM mailbox WHERE account_id = ? AND parent_id = ? AND name = ?"
            " AND id <> ?", (mb.account_id, new_parent, new_name, mailbox_id),
        )):
            raise AlreadyExists(what=new_name)
        # refuse cycles: the new parent must not be the mailbox or one of its descendants
        cur = new_parent
        while cur:
            if cur == mailbox_id:
                raise ValidationError(what="parent")
            p = yield from get_mailbox(cur)
            cur = p.parent_id if p else 0
    modseq = yield from bump(mb.account_id)
    yield Q(
        "UPDATE mailbox SET name = ?, parent_id = ?, subscribed = ?, sort_order = ?, role = ?,"
        " highestmodseq = ? WHERE id = ?",
        (new_name, new_parent, int(mb.subscribed if subscribed is None else subscribed),
         mb.sort_order if sort_order is None else sort_order,
         None if clear_role else (role or mb.role), modseq, mailbox_id),
    )
    changes = [Change(mb.account_id, modseq, ch.MAILBOX, "updated", mailbox_id)]
    yield from log(changes)
    updated = yield from get_mailbox(mailbox_id)
    assert updated is not None
    return updated, changes


def delete_mailbox(
    mailbox_id: int, *, remove_messages: bool
) -> Op[tuple[list[Change], list[tuple[int, str]]]]:
    """Delete a mailbox without children. With ``remove_messages`` its messages leave it (and
    vanish if it held their last membership); without, a non-empty mailbox is refused."""
    mb = yield from get_mailbox(mailbox_id)
    if mb is None:
        raise NotFound(what=f"mailbox {mailbox_id}")
    if (yield Q("SELECT 1 FROM mailbox WHERE parent_id = ? LIMIT 1", (mailbox_id,))):
        raise ValidationError("mailbox.has_children")
    if not remove_messages and (yield Q(
        "SELECT 1 FROM mailbox_message WHERE mailbox_id = ? LIMIT 1", (mailbox_id,)
    )):
        raise ValidationError("mailbox.not_empty")
    modseq = yield from bump(mb.account_id)
    uids = [r[0] for r in (yield Q(
        "SELECT uid FROM mailbox_message WHERE mailbox_id = ?", (mailbox_id,)))]
    changes: list[Change] = []
    released: list[tuple[int, str]] = []
    if uids:
        changes, released = yield from _remove_memberships(mb.account_id, mailbox_id, uids, modseq)
    yield Q("DELETE FROM acl WHERE mailbox_id = ?", (mailbox_id,))
    yield Q("DELETE FROM mailbox WHERE id = ?", (mailbox_id,))
    changes.append(Change(mb.account_id, modseq, ch.MAILBOX, "destroyed", mailbox_id))
    yield from log(changes)
    return changes, released


# -- messages -----------------------------------------------------------------------------------

def _assign_thread(account_id: int, m: NewMessage) -> Op[tuple[int, bool]]:
    """RFC 5256 §2.2-style threading by message-ids, with a subject fallback for replies.
    Returns (thread_id, created)."""
    ids = list(dict.fromkeys([*m.in_reply_to, *m.references]))[:50]
    if ids:
        r = one((yield Q(
            f"SELECT thread_id FROM message WHERE account_id = ? AND msgid IN"
            f" ({placeholders(len(ids))}) ORDER BY id LIMIT 1", (account_id, *ids))))
        if r:
            return int(r[0]), False
    if m.msgid:
        # a reply that arrived before its parent: adopt the child's thread
        r = one((yield Q(
            "SELECT thread_id FROM message WHERE account_id = ? AND in_reply_to = ? LIMIT 1",
            (account_id, m.msgid))))
        if r:
            return int(r[0]), False
    if m.is_reply and m.base_subject:
        r = one((yield Q(
            "SELECT thread_id FROM message WHERE account_id = ? AND base_subject = ?"
            " AND received_at > ? ORDER BY id DESC LIMIT 1",
            (account_id, m.base_subject, m.received_at - 30 * 86400))))
        if r:
            return int(r[0]), False
    rows = yield Q("INSERT INTO thread (account_id) VALUES (?) RETURNING id", (account_id,))
    return int(rows[0][0]), True


def append_message(
    account_id: int, tenant_id: int, mailbox_ids: list[int], m: NewMessage, flags: int,
    keywords: frozenset[str], *, check_quota: bool = True,
) -> Op[tuple[AppendResult, list[Change]]]:
    """Store a new message in one or more mailboxes of one account (IMAP APPEND, delivery,
    JMAP import). The blob must already be written; its reference count is incremented here."""
    if not mailbox_ids:
        raise ValidationError(what="mailbox")
    acct = one((yield Q(
        "SELECT quota_bytes, used_bytes FROM account WHERE id = ?", (account_id,))))
    if acct is None:
        raise NotFound(what=f"account {account_id}")
    if check_quota and acct[0] and acct[1] + m.size > acct[0]:
        raise QuotaExceeded(quota=acct[0])
    modseq = yield from bump(account_id)
    thread_id, new_thread = yield from _assign_thread(account_id, m)
    columns = ("account_id, thread_id, blob_id, size, received_at, sent_at, flags, keywords,"
               " modseq, created_modseq, msgid, in_reply_to, refs, base_subject, subject,"
               " from_addr, to_addr, cc_addr, bcc_addr, reply_to, sender, preview,"
               " has_attachment, header_size, bodystructure, envelope")
    values = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    rows = yield Q(
        # SQLite: above every id ever given (migration 0301), not only above those left
        f"INSERT INTO message (id, {columns}) VALUES ({_NEXT_MESSAGE_ID}, {values}) RETURNING id",
        (account_id, thread_id, m.blob_id, m.size, m.received_at, m.sent_at, flags,
         encode_keywords(keywords), modseq, modseq, m.msgid, " ".join(m.in_reply_to),
         " ".join(m.references), m.base_subject, m.subject, m.from_, m.to, m.cc, m.bcc,
         m.reply_to, m.sender, m.preview, int(m.has_attachment), m.header_size,
         m.bodystructure, m.envelope),
        pg=f"INSERT INTO message ({columns}) VALUES ({values}) RETURNING id",
    )
    message_id = int(rows[0][0])
    changes = [
        Change(account_id, modseq, ch.EMAIL, "created", message_id),
        Change(account_id, modseq, ch.THREAD, "created" if new_thread else "updated", thread_id),
    ]
    first: tuple[int, int, int] | None = None
    for mbid in dict.fromkeys(mailbox_ids):
        r = one((yield Q(
            "UPDATE mailbox SET uidnext = uidnext + 1, highestmodseq = ? WHERE id = ?"
            " AND account_id = ? RETURNING uidnext - 1, uidvalidity",
            (modseq, mbid, account_id))))
        if r is None:
            raise NotFound(what=f"mailbox {mbid}")
        uid, uidvalidity = int(r[0]), int(r[1])
        yield Q(
            "INSERT INTO mailbox_message (mailbox_id, uid, message_id, modseq, received_at)"
            " VALUES (?, ?, ?, ?, ?)", (mbid, uid, message_id, modseq, m.received_at))
        changes.append(Change(account_id, modseq, ch.MAILBOX_MESSAGE, "created", message_id,
                              mbid, uid))
        changes.append(Change(account_id, modseq, ch.MAILBOX, "updated", mbid))
        if first is None:
            first = (mbid, uid, uidvalidity)
    assert first is not None
    yield Q("UPDATE account SET used_bytes = used_bytes + ? WHERE id = ?", (m.size, account_id))
    yield Q(
        "INSERT INTO blob_ref (tenant_id, blob_id, size, refs, created_at) VALUES (?, ?, ?, 1, ?)"
        " ON CONFLICT (tenant_id, blob_id) DO UPDATE SET refs = blob_ref.refs + 1",
        (tenant_id, m.blob_id, m.size, int(time.time())),
    )
    if m.blob_data is not None:
        yield from put_inline(tenant_id, m.blob_id, m.blob_data)
    yield from _index(account_id, message_id, m.search)
    yield from log(changes)
    return AppendResult(message_id, first[0], first[1], first[2], modseq, thread_id, m.blob_id,
                        m.size), changes


def append_messages(
    account_id: int, tenant_id: int, mailbox_id: int,
    items: Sequence[tuple[NewMessage, int, frozenset[str]]],
) -> Op[tuple[list[AppendResult], list[Change]]]:
    """Several messages ``(record, flags, keywords)`` into one mailbox, all or none (RFC 3502
    MULTIAPPEND). Each message gets its own modseq and the next UID, in order; the quota is
    checked against the running total."""
    results: list[AppendResult] = []
    changes: list[Change] = []
    for m, flags, keywords in items:
        r, c = yield from append_message(account_id, tenant_id, [mailbox_id], m, flags, keywords)
        results.append(r)
        changes.extend(c)
    return results, changes


def _index(account_id: int, message_id: int, search: dict[str, str]) -> Op[None]:
    vals = [search.get(f, "") for f in SEARCH_FIELDS]
    yield Q(
        "INSERT INTO search_fts (rowid, subject, from_, to_, cc, bcc, body, attachments)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, *vals),
        pg="",  # PostgreSQL keeps chunked tsvectors instead (below)
    )
    # built only when a PostgreSQL driver reads the rows: on SQLite (empty ``sql``) the
    # tsvector literals were ~70% of the bulk import's writer-thread time
    pg_rows = _LazyRows(lambda: [
        (message_id, account_id, f, chunk)
        for f, text in zip(SEARCH_FIELDS, vals, strict=True)
        for chunk in _tsvector_chunks(text)
    ])
    yield QMany(
        "", pg_rows,
        pg="INSERT INTO search_chunk (message_id, account_id, field, tsv)"
        " VALUES ($1, $2, $3, $4::tsvector)",
    )


class _LazyRows(Sequence[tuple[Any, ...]]):
    """Rows computed on first use (``len``, indexing or iteration)."""

    __slots__ = ("_fn", "_rows")

    def __init__(self, fn: Any) -> None:
        self._fn = fn
        self._rows: list[tuple[Any, ...]] | None = None

    def _get(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = self._fn()
        return self._rows

    def __len__(self) -> int:
        return len(self._get())

    def __getitem__(self, i: Any) -> Any:
        return self._get()[i]


_CHUNK = 16000
_OVERLAP = 64
_MAX_SPLITS = 64  # chunks per field cut early for the 256-positions limit


def _tsvector_chunks(tokens: str) -> list[str]:
    """PostgreSQL tsvector literals with explicit positions (no text-search parser involved,
    so CJK survives any server locale). A tsvector keeps at most 256 positions per lexeme
    and positions up to 16383, so a chunk ends before any token's 257th occurrence (common
    bigrams such as ``le`` reach that in a few KB of English) or at ``_CHUNK`` tokens; chunks
    overlap by ``_OVERLAP`` tokens, so a phrase spanning < 64 tokens is never cut."""
    toks = tokens.split()
    out: list[str] = []
    start, n = 0, len(toks)
    while start < n:
        pos: dict[str, list[int]] = {}
        end = start
        while end < n and end - start < _CHUNK:
            lst = pos.setdefault(toks[end], [])
            if len(lst) < 256:
                lst.append(end - start + 1)
            elif len(out) < _MAX_SPLITS:
                break
            # else (pathological repetition, e.g. 50 KB of one letter): stop splitting and
            # let later occurrences of this token go unpositioned, as PostgreSQL would
            end += 1
        out.append(" ".join(
            "'" + t.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(map(str, p))
            for t, p in pos.items()))
        if end >= n:
            break
        start = max(end - _OVERLAP, start + 1)
    return out


def _unindex(message_ids: list[int]) -> Op[None]:
    if not message_ids:
        return
    yield Q(
        f"DELETE FROM search_fts WHERE rowid IN ({placeholders(len(message_ids))})",
        tuple(message_ids),
        pg=f"DELETE FROM search_chunk WHERE message_id IN ({placeholders(len(message_ids))})",
    )


def _remove_memberships(
    account_id: int, mailbox_id: int, uids: list[int], modseq: int
) -> Op[tuple[list[Change], list[tuple[int, str]]]]:
    """Remove ``uids`` from a mailbox; delete messages left in no mailbox. No bump, no log."""
    changes: list[Change] = []
    released: list[tuple[int, str]] = []
    gone_msgs: list[int] = []
    for batch in batches(uids):
        rows = yield Q(
            f"DELETE FROM mailbox_message WHERE mailbox_id = ? AND uid IN"
            f" ({placeholders(len(batch))}) RETURNING uid, message_id",
            (mailbox_id, *batch),
        )
        for uid, mid in rows:
            changes.append(Change(account_id, modseq, ch.MAILBOX_MESSAGE, "destroyed", mid,
                                  mailbox_id, uid))
            gone_msgs.append(mid)
    changes.append(Change(account_id, modseq, ch.MAILBOX, "updated", mailbox_id))
    # messages still elsewhere are "updated" (mailboxIds changed); orphans are destroyed, and
    # so is a thread left without messages (RFC 8621 §3: a thread exists while it has emails)
    threads: set[int] = set()
    for batch in batches(gone_msgs):
        rows = yield Q(
            f"SELECT m.id, m.thread_id, m.blob_id, m.size, a.tenant_id,"
            f" (SELECT COUNT(*) FROM mailbox_message x WHERE x.message_id = m.id)"
            f" FROM message m JOIN account a ON a.id = m.account_id"
            f" WHERE m.id IN ({placeholders(len(batch))})", tuple(batch))
        orphans = []
        for mid, tid, blob_id, size, tenant_id, left in rows:
            if left:
                changes.append(Change(account_id, modseq, ch.EMAIL, "updated", mid))
                yield Q("UPDATE message SET modseq = ? WHERE id = ?", (modseq, mid))
            else:
                orphans.append(mid)
                changes.append(Change(account_id, modseq, ch.EMAIL, "destroyed", mid))
                threads.add(int(tid))
                released.append((tenant_id, blob_id))
                yield Q("UPDATE account SET used_bytes = used_bytes - ? WHERE id = ?",
                        (size, account_id))
                yield Q("UPDATE blob_ref SET refs = refs - 1 WHERE tenant_id = ? AND blob_id = ?",
                        (tenant_id, blob_id))
        if orphans:
            yield from _unindex(orphans)
            yield Q(_KEEP_MESSAGE_HIGH, (), pg="")
            yield Q(f"DELETE FROM message WHERE id IN ({placeholders(len(orphans))})",
                    tuple(orphans))
    changes += yield from _settle_threads(account_id, sorted(threads), modseq)
    yield from touch_mailboxes([mailbox_id], modseq)
    return changes, released


def _settle_threads(account_id: int, thread_ids: list[int], modseq: int) -> Op[list[Change]]:
    """The thread changes of removing messages from ``thread_ids``: ``updated`` for a thread
    that still has messages, ``destroyed`` (and its row deleted) for one that has none; without
    the delete, every conversation ever started stayed in ``thread`` for good.

    The row with the highest id in the table is kept even when empty: SQLite gives a new row
    the highest id + 1 (no ``AUTOINCREMENT``), so deleting it would hand its id, a JMAP Thread
    id the client has seen destroyed, to the next new thread (clients key what they cache by
    id, RFC 8620 §1.2). It stays an empty row; a newer thread leaves it behind for good, which
    happens only when the newest thread of the whole store is emptied."""
    alive: set[int] = set()
    for batch in batches(thread_ids):
        rows = yield Q(f"SELECT DISTINCT thread_id FROM message WHERE account_id = ?"
                       f" AND thread_id IN ({placeholders(len(batch))})", (account_id, *batch))
        alive.update(int(r[0]) for r in rows)
    empty = [t for t in thread_ids if t not in alive]
    for batch in batches(empty):
        yield Q(f"DELETE FROM thread WHERE id IN ({placeholders(len(batch))})"
                f" AND id < (SELECT MAX(id) FROM thread)", tuple(batch))
    return [Change(account_id, modseq, ch.THREAD, "updated" if t in alive else "destroyed", t)
            for t in thread_ids]


def expunge(
    account_id: int, mailbox_id: int, uids: list[int] | None, *, only_deleted: bool = True
) -> Op[tuple[list[int], list[Change], list[tuple[int, str]]]]:
    """IMAP EXPUNGE / UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1): remove the messages of the
    mailbox that carry ``\\Deleted`` (restricted to ``uids`` when given). Returns expunged UIDs
    in ascending order.

    Flags belong to the email, so an email that stays in other mailboxes would carry the
    mailbox's ``\\Deleted`` mark into them (IMAP COPY + STORE \\Deleted + EXPUNGE, the
    classic move, would lose the copy at the target's next EXPUNGE): the mark is cleared on
    the emails that survive."""
    sql = ("SELECT mm.uid, mm.message_id FROM mailbox_message mm"
           " JOIN message m ON m.id = mm.message_id WHERE mm.mailbox_id = ?")
    params: list[object] = [mailbox_id]
    if only_deleted:
        sql += " AND (m.flags & 8) <> 0"
    rows = yield Q(sql + " ORDER BY mm.uid", tuple(params))
    want = None if uids is None else set(uids)
    picked = [(int(u), int(m)) for u, m in rows if want is None or u in want]
    if not picked:
        return [], [], []
    found = [u for u, _ in picked]
    modseq = yield from bump(account_id)
    changes, released = yield from _remove_memberships(account_id, mailbox_id, found, modseq)
    changes += yield from _clear_deleted(account_id, [m for _, m in picked], modseq)
    yield from log(changes)
    return found, changes, released


def _clear_deleted(account_id: int, message_ids: list[int], modseq: int) -> Op[list[Change]]:
    """Clear ``\\Deleted`` on those of ``message_ids`` still in a mailbox. No bump, no log."""
    rows: list[Any] = []
    for batch in batches(message_ids):
        rows.extend((yield Q(
            f"SELECT mm.mailbox_id, mm.uid, mm.message_id FROM mailbox_message mm"
            f" JOIN message m ON m.id = mm.message_id WHERE (m.flags & 8) <> 0 AND"
            f" mm.message_id IN ({placeholders(len(batch))})", tuple(batch))))
    if not rows:
        return []
    yield QMany("UPDATE message SET flags = flags - 8, modseq = ? WHERE id = ?",
                [(modseq, mid) for mid in sorted({r[2] for r in rows})])
    mbids = sorted({r[0] for r in rows})
    yield from touch_mailboxes(mbids, modseq)
    return [Change(account_id, modseq, ch.MAILBOX_MESSAGE, "updated", mid, mbid, uid)
            for mbid, uid, mid in rows] + [
        Change(account_id, modseq, ch.MAILBOX, "updated", mb) for mb in mbids]


def remove_from_mailbox(
    account_id: int, mailbox_id: int, uids: list[int]
) -> Op[tuple[list[int], list[Change], list[tuple[int, str]]]]:
    """Remove the memberships ``uids`` of one mailbox, whatever their flags (POP3 DELE + QUIT,
    RFC 1939 §6: the maildrop is the inbox). An email that is also in other mailboxes stays
    there; one left in no mailbox is destroyed. Returns (removed UIDs ascending, changes,
    released blobs); UIDs no longer in the mailbox are skipped."""
    if not uids:
        return [], [], []
    present: list[int] = []
    for batch in batches(uids):
        rows = yield Q(
            f"SELECT uid FROM mailbox_message WHERE mailbox_id = ? AND uid IN"
            f" ({placeholders(len(batch))})", (mailbox_id, *batch))
        present.extend(int(r[0]) for r in rows)
    if not present:
        return [], [], []
    present.sort()
    modseq = yield from bump(account_id)
    changes, released = yield from _remove_memberships(account_id, mailbox_id, present, modseq)
    yield from log(changes)
    return present, changes, released


def destroy_messages(
    account_id: int, message_ids: list[int]
) -> Op[tuple[list[int], list[int], list[Change], list[tuple[int, str]]]]:
    """JMAP Email/set destroy: remove messages from every mailbox. Returns (destroyed,
    not_found, changes, released blobs)."""
    if not message_ids:
        return [], [], [], []
    rows = yield Q(
        f"SELECT mm.mailbox_id, mm.uid, mm.message_id FROM mailbox_message mm"
        f" JOIN message m ON m.id = mm.message_id WHERE m.account_id = ? AND"
        f" mm.message_id IN ({placeholders(len(message_ids))})", (account_id, *message_ids))
    by_mb: dict[int, list[int]] = {}
    present: set[int] = set()
    for mbid, uid, mid in rows:
        by_mb.setdefault(mbid, []).append(uid)
        present.add(mid)
    if not present:
        return [], list(message_ids), [], []
    modseq = yield from bump(account_id)
    changes: list[Change] = []
    released: list[tuple[int, str]] = []
    for mbid, uids in by_mb.items():
        c, r = yield from _remove_memberships(account_id, mbid, uids, modseq)
        changes.extend(c)
        released.extend(r)
    yield from log(changes)
    return ([m for m in message_ids if m in present], [m for m in message_ids if m not in present],
            changes, released)


def set_flags(
    account_id: int, message_ids: list[int], *, add: int = 0, remove: int = 0,
    add_keywords: frozenset[str] = frozenset(), remove_keywords: frozenset[str] = frozenset(),
    replace: tuple[int, frozenset[str]] | None = None, unchanged_since: int | None = None,
) -> Op[tuple[list[tuple[int, int, frozenset[str], int]], list[int], list[Change]]]:
    """Change flags/keywords of messages (IMAP STORE, JMAP keywords patch).

    Returns (updated [(id, flags, keywords, modseq)], failed ids, changes). ``failed`` lists
    messages whose modseq exceeded ``unchanged_since`` (RFC 7162 §3.1.3) or that do not exist.
    Messages whose flags would not change are neither updated nor failed (and keep their modseq).
    """
    if not message_ids:
        return [], [], []
    rows = yield Q(
        f"SELECT id, flags, keywords, modseq FROM message WHERE account_id = ? AND id IN"
        f" ({placeholders(len(message_ids))})", (account_id, *message_ids))
    current = {int(r[0]): (int(r[1]), decode_keywords(r[2]), int(r[3])) for r in rows}
    failed = [m for m in message_ids if m not in current]
    todo: list[tuple[int, int, frozenset[str]]] = []
    for mid, (flags, kws, mseq) in current.items():
        if unchanged_since is not None and mseq > unchanged_since:
            failed.append(mid)
            continue
        if replace is not None:
            nf, nk = replace
        else:
            nf = (flags | add) & ~remove
            nk = (kws | add_keywords) - remove_keywords
        if (nf, nk) != (flags, kws):
            todo.append((mid, nf, frozenset(nk)))
    if not todo:
        return [], failed, []
    modseq = yield from bump(account_id)
    yield QMany(
        "UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE id = ?",
        [(nf, encode_keywords(nk), modseq, mid) for mid, nf, nk in todo],
    )
    ids = [t[0] for t in todo]
    mb_rows = []
    for batch in batches(ids):
        mb_rows.extend((yield Q(
            f"SELECT mailbox_id, uid, message_id FROM mailbox_message WHERE message_id IN"
            f" ({placeholders(len(batch))})", tuple(batch))))
    changes = [Change(account_id, modseq, ch.EMAIL, "updated", mid,
                      flags_changed=current[mid][0] ^ nf) for mid, nf, _ in todo]
    changes.extend(Change(account_id, modseq, ch.MAILBOX_MESSAGE, "updated", mid, mbid, uid)
                   for mbid, uid, mid in mb_rows)
    mbids = sorted({r[0] for r in mb_rows})
    changes.extend(Change(account_id, modseq, ch.MAILBOX, "updated", mb) for mb in mbids)
    yield from touch_mailboxes(mbids, modseq)
    yield from log(changes)
    return [(mid, nf, nk, modseq) for mid, nf, nk in todo], failed, changes


def add_to_mailbox(
    account_id: int, message_ids: list[int], mailbox_id: int, *, remove_from: int | None = None,
) -> Op[tuple[list[tuple[int, int]], list[Change]]]:
    """Add messages to a mailbox (IMAP COPY within an account shares the email; JMAP
    mailboxIds patch). With ``remove_from``, the memberships in that mailbox are removed in the
    same transaction (IMAP MOVE, RFC 6851). Returns [(message_id, new uid)] in input order."""
    target = yield from get_mailbox(mailbox_id)
    if target is None or target.account_id != account_id:
        raise NotFound(what=f"mailbox {mailbox_id}")
    rows = yield Q(
        f"SELECT m.id, m.received_at, (SELECT uid FROM mailbox_message x WHERE x.message_id = m.id"
        f" AND x.mailbox_id = ?) FROM message m WHERE m.account_id = ? AND m.id IN"
        f" ({placeholders(len(message_ids))})", (mailbox_id, account_id, *message_ids))
    info = {int(r[0]): (int(r[1]), r[2]) for r in rows}
    modseq = yield from bump(account_id)
    changes: list[Change] = []
    out: list[tuple[int, int]] = []
    new_members = [m for m in message_ids if m in info and info[m][1] is None]
    if new_members:
        r = one((yield Q(
            "UPDATE mailbox SET uidnext = uidnext + ?, highestmodseq = ? WHERE id = ?"
            " RETURNING uidnext", (len(new_members), modseq, mailbox_id))))
        assert r is not None
        first_uid = int(r[0]) - len(new_members)
        ins = []
        for i, mid in enumerate(new_members):
            uid = first_uid + i
            ins.append((mailbox_id, uid, mid, modseq, info[mid][0]))
            changes.append(Change(account_id, modseq, ch.MAILBOX_MESSAGE, "created", mid,
                                  mailbox_id, uid))
            changes.append(Change(account_id, modseq, ch.EMAIL, "updated", mid))
        yield QMany(
            "INSERT INTO mailbox_message (mailbox_id, uid, message_id, modseq, received_at)"
            " VALUES (?, ?, ?, ?, ?)", ins)
        yield Q(
            f"UPDATE message SET modseq = ? WHERE id IN ({placeholders(len(new_members))})",
            (modseq, *new_members))
        assigned = {row[2]: row[1] for row in ins}
    else:
        assigned = {}
    for mid in message_ids:
        if mid in info:
            out.append((mid, assigned.get(mid) or int(info[mid][1])))
    changes.append(Change(account_id, modseq, ch.MAILBOX, "updated", mailbox_id))
    if remove_from is not None and remove_from != mailbox_id:
        src_rows = yield Q(
            f"SELECT uid FROM mailbox_message WHERE mailbox_id = ? AND message_id IN"
            f" ({placeholders(len(message_ids))})", (remove_from, *message_ids))
        uids = [int(r[0]) for r in src_rows]
        if uids:
            c, _ = yield from _remove_memberships(account_id, remove_from, uids, modseq)
            changes.extend(c)
    yield from log(changes)
    return out, changes


# -- reads for protocols -------------------------------------------------------------------------

_ENTRY_SQL = ("SELECT mm.uid, mm.message_id, m.flags, m.keywords,"
              " CASE WHEN mm.modseq > m.modseq THEN mm.modseq ELSE m.modseq END, m.size,"
              " mm.received_at FROM mailbox_message mm JOIN message m ON m.id = mm.message_id"
              " WHERE mm.mailbox_id = ?")


def _entries(rows: list[Any]) -> list[MailboxEntry]:
    return [MailboxEntry(int(r[0]), int(r[1]), int(r[2]), decode_keywords(r[3]), int(r[4]),
                         int(r[5]), int(r[6])) for r in rows]


def mailbox_entries(mailbox_id: int, *, changed_since: int | None = None) -> Op[list[MailboxEntry]]:
    """All messages of a mailbox in UID order (IMAP SELECT builds its view from this)."""
    sql = _ENTRY_SQL
    params: tuple[object, ...] = (mailbox_id,)
    if changed_since is not None:
        sql += " AND (mm.modseq > ? OR m.modseq > ?)"
        params = (mailbox_id, changed_since, changed_since)
    rows = yield Q(sql + " ORDER BY mm.uid", params)
    return _entries(rows)


def mailbox_entries_of(
    mailbox_id: int, uids: Sequence[int] = (), message_ids: Sequence[int] = ()
) -> Op[list[MailboxEntry]]:
    """The entries of ``uids`` and of ``message_ids`` in one mailbox, in UID order: what a
    batch of changes touched (primary-key and ``mm_message`` lookups, never a mailbox scan).
    Absent ones are skipped."""
    found: dict[int, MailboxEntry] = {}
    for column, keys in (("mm.uid", list(uids)), ("mm.message_id", list(message_ids))):
        for batch in batches(keys):
            rows = yield Q(f"{_ENTRY_SQL} AND {column} IN ({placeholders(len(batch))})",
                           (mailbox_id, *batch))
            found.update((e.uid, e) for e in _entries(rows))
    return [found[u] for u in sorted(found)]


def get_messages(account_id: int, message_ids: Sequence[int]) -> Op[list[Message]]:
    """Messages by id (missing ids are skipped), each with its mailbox ids."""
    out: list[Message] = []
    ids = list(message_ids)
    for batch in batches(ids):
        rows = yield Q(
            f"SELECT {MESSAGE_COLS} FROM message m WHERE m.account_id = ? AND m.id IN"
            f" ({placeholders(len(batch))})", (account_id, *batch))
        mrows = yield Q(
            f"SELECT message_id, mailbox_id FROM mailbox_message WHERE message_id IN"
            f" ({placeholders(len(batch))})", tuple(batch))
        mbs: dict[int, list[int]] = {}
        for mid, mbid in mrows:
            mbs.setdefault(int(mid), []).append(int(mbid))
        by_id = {int(r[0]): r for r in rows}
        out.extend(message_row(by_id[m], tuple(sorted(mbs.get(m, []))))
                   for m in batch if m in by_id)
    return out


def message_parts(account_id: int, message_ids: Sequence[int]) -> Op[list[MessageParts]]:
    """The :class:`MessageParts` of messages by id (missing ids and other accounts' skipped):
    the six columns IMAP FETCH needs, not the 26 of a whole row with its six address lists
    decoded from JSON (a first ``FETCH 1:* (ENVELOPE)`` of a big mailbox reads every row)."""
    out: list[MessageParts] = []
    ids = list(message_ids)
    for batch in batches(ids):
        rows = yield Q(
            "SELECT id, thread_id, blob_id, header_size, bodystructure, envelope FROM message"
            f" WHERE account_id = ? AND id IN ({placeholders(len(batch))})",
            (account_id, *batch))
        out.extend(MessageParts(int(r[0]), int(r[1]), r[2], int(r[3]), r[4], r[5]) for r in rows)
    return out


def message_flags(account_id: int, message_ids: Sequence[int]) -> Op[dict[int, int]]:
    """``{message id: flags bits}`` (missing ids are skipped): what a caller that looks only
    at flags needs, without building whole message rows."""
    out: dict[int, int] = {}
    ids = list(message_ids)
    for batch in batches(ids):
        rows = yield Q(
            f"SELECT id, flags FROM message WHERE account_id = ? AND id IN"
            f" ({placeholders(len(batch))})", (account_id, *batch))
        out.update((int(r[0]), int(r[1])) for r in rows)
    return out


def thread_message_ids(account_id: int, thread_ids: Sequence[int]) -> Op[dict[int, list[int]]]:
    """Message ids per thread, oldest first (JMAP Thread/get)."""
    if not thread_ids:
        return {}
    rows = yield Q(
        f"SELECT thread_id, id FROM message WHERE account_id = ? AND thread_id IN"
        f" ({placeholders(len(thread_ids))}) ORDER BY received_at, id",
        (account_id, *thread_ids))
    out: dict[int, list[int]] = {t: [] for t in thread_ids}
    for tid, mid in rows:
        out.setdefault(int(tid), []).append(int(mid))
    return out


def query_mailbox(
    mailbox_id: int, *, position: int = 0, limit: int = 50, descending: bool = True
) -> Op[tuple[list[int], int]]:
    """Message ids of a mailbox sorted by received date (JMAP's default inbox view) with the
    total count."""
    order = "DESC" if descending else "ASC"
    rows = yield Q(
        f"SELECT message_id FROM mailbox_message WHERE mailbox_id = ?"
        f" ORDER BY received_at {order}, uid {order} LIMIT ? OFFSET ?",
        (mailbox_id, limit, position))
    total = yield Q("SELECT COUNT(*) FROM mailbox_message WHERE mailbox_id = ?", (mailbox_id,))
    return [int(r[0]) for r in rows], int(total[0][0])


def search_text(
    account_id: int, field: str | None, fts: str, tsq: str, mailbox_id: int | None = None
) -> Op[list[int]]:
    """Message ids whose ``field`` (one of SEARCH_FIELDS, or None for any) contains the query,
    ascending. ``fts`` and ``tsq`` are the FTS5 and tsquery forms from ``core.search_tokens``.
    With ``mailbox_id``, only messages in that mailbox."""
    if field is not None and field not in SEARCH_FIELDS:
        raise ValidationError(what=field)
    match = f"{{{field}}} : ({fts})" if field else fts
    pg_field = " AND s.field = $3" if field else ""
    if mailbox_id is None:
        sql = ("SELECT m.id FROM message m WHERE m.account_id = ? AND m.id IN"
               " (SELECT rowid FROM search_fts WHERE search_fts MATCH ?) ORDER BY m.id")
        params: tuple[object, ...] = (account_id, match)
        pg = ("SELECT DISTINCT s.message_id FROM search_chunk s WHERE s.account_id = $1"
              f" AND s.tsv @@ $2::tsquery{pg_field} ORDER BY s.message_id")
        pg_params: tuple[object, ...] = (account_id, tsq, field) if field else (account_id, tsq)
    else:
        sql = ("SELECT mm.message_id FROM mailbox_message mm WHERE mm.mailbox_id = ? AND"
               " mm.message_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"
               " ORDER BY mm.message_id")
        params = (mailbox_id, match)
        pg = ("SELECT mm.message_id FROM mailbox_message mm WHERE mm.mailbox_id = $1 AND"
              " mm.message_id IN (SELECT s.message_id FROM search_chunk s WHERE"
              f" s.tsv @@ $2::tsquery{pg_field}) ORDER BY mm.message_id")
        pg_params = (mailbox_id, tsq, field) if field else (mailbox_id, tsq)
    rows = yield Q(sql, params, pg=pg, pg_params=pg_params)
    return [int(r[0]) for r in rows]
