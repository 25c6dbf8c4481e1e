"""Operations for JMAP state beyond the mail model (tables of migration 0004).

Row types here are immutable snapshots that ``store.reader`` re-exports to protocols. Writes that
change JMAP-visible objects (Identity, EmailSubmission) bump ``account.modseq`` once and log their
changes in the same transaction (``store.sql.mail.bump``/``log``), so ``Identity/changes`` and
``EmailSubmission/changes`` (RFC 8620 §5.2) are driven by the one change log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any

from rongmail.core.changes import Change
from rongmail.core.flags import JMAP_KEYWORDS
from rongmail.core.models import Message
from rongmail.errors import NotFound
from rongmail.store.sql.mail import (
    SEARCH_FIELDS,
    account_modseq,
    bump,
    get_mailbox,
    get_messages,
    log,
    query_mailbox,
)
from rongmail.store.sql.q import Op, Q, Row, batches, one, placeholders

IDENTITY = "Identity"
EMAIL_SUBMISSION = "EmailSubmission"


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    account_id: int
    kind: str  # "bearer" | "session"
    name: str
    csrf: str
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class IdentityRow:
    id: int
    account_id: int
    name: str
    email: str
    reply_to: list[dict[str, str]] | None
    bcc: list[dict[str, str]] | None
    text_signature: str
    html_signature: str
    may_delete: bool


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    id: int
    account_id: int
    identity_id: int
    email_id: int
    thread_id: int
    envelope: dict[str, Any]
    send_at: int
    undo_status: str  # "pending" | "final" | "canceled"
    delivery_status: dict[str, Any]
    queue_id: int | None
    blob_id: str
    on_success: str  # JSON: {"update": {...}|null, "destroy": bool} for deferred sends
    created_at: int


@dataclass(frozen=True, slots=True)
class VacationRow:
    account_id: int
    is_enabled: bool
    from_date: int | None
    to_date: int | None
    subject: str | None
    text_body: str | None
    html_body: str | None


@dataclass(frozen=True, slots=True)
class EmailIndexRow:
    """The sortable/filterable columns of one email (JMAP Email/query outside the fast path)."""

    id: int
    thread_id: int
    received_at: int
    sent_at: int | None
    size: int
    flags: int
    keywords: str
    has_attachment: bool
    from_: str  # JSON [[name, email], ...]
    to: str
    subject: str
    mailbox_ids: tuple[int, ...]


# -- tokens ---------------------------------------------------------------------------------------

_TOKEN_COLS = "id, account_id, kind, name, csrf, created_at, expires_at"


def insert_token(token_hash: str, account_id: int, kind: str, name: str, csrf: str,
                 created_at: int, expires_at: int) -> Op[int]:
    rows = yield Q(
        "INSERT INTO http_token (token_hash, account_id, kind, name, csrf, created_at,"
        " expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (token_hash, account_id, kind, name, csrf, created_at, expires_at, created_at))
    return int(rows[0][0])


def token_by_hash(token_hash: str, now: int) -> Op[TokenRow | None]:
    r = one((yield Q(
        f"SELECT {_TOKEN_COLS} FROM http_token WHERE token_hash = ? AND expires_at > ?",
        (token_hash, now))))
    return TokenRow(*r) if r else None


def delete_token(token_hash: str) -> Op[None]:
    yield Q("DELETE FROM http_token WHERE token_hash = ?", (token_hash,))


#: rows removed per purge transaction (tokens, finished submissions, old uploads)
PURGE_BATCH = 5000


def purge_tokens(now: int, limit: int = PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` tokens and sessions expired at ``now`` (:func:`token_by_hash`
    no longer accepts them); returns how many, and a caller repeats while it is ``limit``.
    Their ``session_info`` rows go with ``store.sql.auth.purge_orphan_session_info``."""
    rows = yield Q("DELETE FROM http_token WHERE id IN (SELECT id FROM http_token"
                   " WHERE expires_at <= ? LIMIT ?) RETURNING 1", (now, limit))
    return len(rows)


# -- uploads and blob access ----------------------------------------------------------------------

def record_upload(account_id: int, blob_id: str, size: int, type_: str, now: int) -> Op[None]:
    yield Q(
        "INSERT INTO jmap_upload (account_id, blob_id, size, type, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, blob_id) DO UPDATE SET created_at = ?",
        (account_id, blob_id, size, type_, now, now))


def purge_uploads(before: int, limit: int = PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` ``jmap_upload`` rows last uploaded before ``before`` (RFC 8620
    §6.1: a blob no object references may go after a while); returns how many, and a caller
    repeats while it is ``limit``.

    An upload row holds no blob reference (blob GC, ``store.sql.blobs``, counts only
    ``blob_ref``, the queue and held quarantine rows), so deleting it releases nothing; it only
    ends the account's access through the upload. An email imported or composed from the
    upload keeps its own ``message`` row and ``blob_ref`` (:func:`blob_visible` still finds
    it). ``created_at`` is re-checked on the deleted row: an upload of the same bytes that
    :func:`record_upload` refreshed meanwhile stays."""
    rows = yield Q(
        "DELETE FROM jmap_upload WHERE (account_id, blob_id) IN (SELECT account_id, blob_id"
        " FROM jmap_upload WHERE created_at < ? LIMIT ?) AND created_at < ? RETURNING 1",
        (before, limit, before))
    return len(rows)


def blob_visible(account_id: int, blob_id: str) -> Op[bool]:
    """Whether the account may read the blob: one of its emails, uploads or submissions."""
    r = yield Q(
        "SELECT 1 FROM message WHERE account_id = ? AND blob_id = ?"
        " UNION ALL SELECT 1 FROM jmap_upload WHERE account_id = ? AND blob_id = ? LIMIT 1",
        (account_id, blob_id, account_id, blob_id))
    return bool(r)


# -- the email index for Email/query --------------------------------------------------------------

def email_index(account_id: int, mailbox_id: int | None, *, memberships: bool = True,
                texts: bool = True) -> Op[list[EmailIndexRow]]:
    """Filter/sort columns of every email of the account (or of one mailbox). Without
    ``memberships`` ``mailbox_ids`` is empty; without ``texts`` from/to/subject are empty
    (they are only needed to sort by them): both save most of the cost on big mailboxes."""
    text_cols = "m.from_addr, m.to_addr, m.subject" if texts else "'', '', ''"
    cols = ("m.id, m.thread_id, m.received_at, m.sent_at, m.size, m.flags, m.keywords,"
            f" m.has_attachment, {text_cols}")
    mrows: list[Any] = []
    if mailbox_id is None:
        rows = yield Q(f"SELECT {cols} FROM message m WHERE m.account_id = ?", (account_id,))
        if memberships:
            mrows = yield Q(
                "SELECT mm.message_id, mm.mailbox_id FROM mailbox_message mm JOIN mailbox b"
                " ON b.id = mm.mailbox_id WHERE b.account_id = ?", (account_id,))
    else:
        rows = yield Q(
            f"SELECT {cols} FROM mailbox_message x JOIN message m ON m.id = x.message_id"
            " WHERE x.mailbox_id = ? AND m.account_id = ?", (mailbox_id, account_id))
        if memberships:
            mrows = yield Q(
                "SELECT mm.message_id, mm.mailbox_id FROM mailbox_message x JOIN"
                " mailbox_message mm ON mm.message_id = x.message_id WHERE x.mailbox_id = ?",
                (mailbox_id,))
    mbs: dict[int, list[int]] = {}
    for mid, mbid in mrows:
        mbs.setdefault(int(mid), []).append(int(mbid))
    none: tuple[int, ...] = ()
    return [
        EmailIndexRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "", bool(r[7]),
                      r[8] or "[]", r[9] or "[]", r[10] or "",
                      tuple(sorted(mbs[r[0]])) if r[0] in mbs else none)
        for r in rows
    ]


# -- identities (RFC 8621 §6) ----------------------------------------------------------------------

_ID_COLS = ("id, account_id, name, email, reply_to, bcc, text_signature, html_signature,"
            " may_delete")


def _identity(r: Sequence[Any]) -> IdentityRow:
    return IdentityRow(int(r[0]), int(r[1]), r[2], r[3], json.loads(r[4]) if r[4] else None,
                       json.loads(r[5]) if r[5] else None, r[6], r[7], bool(r[8]))


def list_identities(account_id: int) -> Op[list[IdentityRow]]:
    rows = yield Q(f"SELECT {_ID_COLS} FROM jmap_identity WHERE account_id = ? ORDER BY id",
                   (account_id,))
    return [_identity(r) for r in rows]


def _log_one(account_id: int, type_: str, action: str, object_id: int) -> Op[list[Change]]:
    modseq = yield from bump(account_id)
    changes = [Change(account_id, modseq, type_, action, object_id)]  # type: ignore[arg-type]
    yield from log(changes)
    return changes


def create_identity(account_id: int, name: str, email: str, reply_to: str | None,
                    bcc: str | None, text_signature: str, html_signature: str,
                    *, may_delete: bool = True) -> Op[tuple[IdentityRow, list[Change]]]:
    rows = yield Q(
        "INSERT INTO jmap_identity (account_id, name, email, reply_to, bcc, text_signature,"
        f" html_signature, may_delete) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_ID_COLS}",
        (account_id, name, email, reply_to, bcc, text_signature, html_signature,
         int(may_delete)))
    row = _identity(rows[0])
    changes = yield from _log_one(account_id, IDENTITY, "created", row.id)
    return row, changes


def update_identity(account_id: int, identity_id: int, values: dict[str, Any]
                    ) -> Op[list[Change]]:
    """``values`` maps column names (name, reply_to, bcc, text_signature, html_signature)."""
    allowed = ("name", "reply_to", "bcc", "text_signature", "html_signature")
    sets = [(k, v) for k, v in values.items() if k in allowed]
    if not (yield Q("SELECT 1 FROM jmap_identity WHERE id = ? AND account_id = ?",
                    (identity_id, account_id))):
        raise NotFound(what=f"identity {identity_id}")
    if sets:
        yield Q(f"UPDATE jmap_identity SET {', '.join(f'{k} = ?' for k, _ in sets)}"
                " WHERE id = ?", (*[v for _, v in sets], identity_id))
    return (yield from _log_one(account_id, IDENTITY, "updated", identity_id))


def delete_identity(account_id: int, identity_id: int) -> Op[list[Change]]:
    rows = yield Q("DELETE FROM jmap_identity WHERE id = ? AND account_id = ? RETURNING id",
                   (identity_id, account_id))
    if not rows:
        raise NotFound(what=f"identity {identity_id}")
    return (yield from _log_one(account_id, IDENTITY, "destroyed", identity_id))


# -- submissions (RFC 8621 §7) ---------------------------------------------------------------------

_SUB_COLS = ("id, account_id, identity_id, email_id, thread_id, envelope, send_at, undo_status,"
             " delivery_status, queue_id, blob_id, on_success, created_at")


def _submission(r: Sequence[Any]) -> SubmissionRow:
    return SubmissionRow(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]),
                         json.loads(r[5]), int(r[6]), r[7], json.loads(r[8] or "{}"),
                         None if r[9] is None else int(r[9]), r[10], r[11], int(r[12]))


def list_submissions(account_id: int, ids: Sequence[int] | None = None
                     ) -> Op[list[SubmissionRow]]:
    if ids is None:
        rows = yield Q(f"SELECT {_SUB_COLS} FROM jmap_submission WHERE account_id = ?"
                       " ORDER BY id", (account_id,))
    elif not ids:
        return []
    else:
        rows = yield Q(f"SELECT {_SUB_COLS} FROM jmap_submission WHERE account_id = ? AND id IN"
                       f" ({placeholders(len(ids))}) ORDER BY id", (account_id, *ids))
    return [_submission(r) for r in rows]


def due_submissions(now: int, limit: int = 100) -> Op[list[SubmissionRow]]:
    rows = yield Q(f"SELECT {_SUB_COLS} FROM jmap_submission WHERE undo_status = 'pending'"
                   " AND send_at <= ? ORDER BY send_at LIMIT ?", (now, limit))
    return [_submission(r) for r in rows]


def create_submission(account_id: int, identity_id: int, email_id: int, thread_id: int,
                      envelope: dict[str, Any], send_at: int, undo_status: str, blob_id: str,
                      on_success: str, now: int) -> Op[tuple[SubmissionRow, list[Change]]]:
    rows = yield Q(
        "INSERT INTO jmap_submission (account_id, identity_id, email_id, thread_id, envelope,"
        " send_at, undo_status, delivery_status, blob_id, on_success, created_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, '{{}}', ?, ?, ?) RETURNING {_SUB_COLS}",
        (account_id, identity_id, email_id, thread_id, json.dumps(envelope), send_at,
         undo_status, blob_id, on_success, now))
    row = _submission(rows[0])
    changes = yield from _log_one(account_id, EMAIL_SUBMISSION, "created", row.id)
    return row, changes


def update_submission(account_id: int, submission_id: int, *, undo_status: str | None = None,
                      delivery_status: dict[str, Any] | None = None,
                      queue_id: int | None = None, only_if_pending: bool = False,
                      ) -> Op[tuple[SubmissionRow, list[Change]]]:
    r = one((yield Q(f"SELECT {_SUB_COLS} FROM jmap_submission WHERE id = ? AND account_id = ?",
                     (submission_id, account_id))))
    if r is None:
        raise NotFound(what=f"submission {submission_id}")
    cur = _submission(r)
    if only_if_pending and cur.undo_status != "pending":
        return cur, []
    yield Q("UPDATE jmap_submission SET undo_status = ?, delivery_status = ?, queue_id = ?"
            " WHERE id = ?",
            (undo_status or cur.undo_status,
             json.dumps(cur.delivery_status if delivery_status is None else delivery_status),
             cur.queue_id if queue_id is None else queue_id, submission_id))
    changes = yield from _log_one(account_id, EMAIL_SUBMISSION, "updated", submission_id)
    r = one((yield Q(f"SELECT {_SUB_COLS} FROM jmap_submission WHERE id = ?", (submission_id,))))
    assert r is not None
    return _submission(r), changes


def delete_submission(account_id: int, submission_id: int) -> Op[list[Change]]:
    rows = yield Q("DELETE FROM jmap_submission WHERE id = ? AND account_id = ? RETURNING id",
                   (submission_id, account_id))
    if not rows:
        raise NotFound(what=f"submission {submission_id}")
    return (yield from _log_one(account_id, EMAIL_SUBMISSION, "destroyed", submission_id))


def purge_submissions(before: int, limit: int = PURGE_BATCH) -> Op[list[Change]]:
    """Forget at most ``limit`` finished EmailSubmission objects (RFC 8621 §7: a server may
    delete them after a while): ``undo_status`` final (handed to the queue) or canceled, sent
    (or due) before ``before``, and no longer in the outbound queue (``queue_message`` rows
    go when every recipient is terminal). A pending one is never touched.

    Each account whose objects go is bumped once and gets one ``EmailSubmission destroyed``
    change per object in this transaction, the record ``EmailSubmission/set`` destroy writes
    (:func:`delete_submission`), so ``/changes`` reports them. The newest row is kept: SQLite
    would hand its id, seen destroyed by clients, to the next submission. Returns those changes (one per
    row deleted); a caller repeats while there are ``limit``."""
    rows = yield Q(
        "DELETE FROM jmap_submission WHERE id IN (SELECT s.id FROM jmap_submission s"
        " WHERE s.undo_status IN ('final', 'canceled') AND s.send_at < ? AND NOT EXISTS"
        " (SELECT 1 FROM queue_message q WHERE q.id = s.queue_id)"
        " AND s.id < (SELECT MAX(id) FROM jmap_submission) ORDER BY s.id LIMIT ?)"
        " RETURNING id, account_id", (before, limit))
    by_account: dict[int, list[int]] = {}
    for sid, account_id in sorted(rows):
        by_account.setdefault(int(account_id), []).append(int(sid))
    changes: list[Change] = []
    for account_id, sids in sorted(by_account.items()):
        modseq = yield from bump(account_id)
        changes += [Change(account_id, modseq, EMAIL_SUBMISSION, "destroyed", sid)
                    for sid in sids]
    yield from log(changes)
    return changes


# -- vacation response (RFC 8621 §8) ---------------------------------------------------------------

def get_vacation(account_id: int) -> Op[VacationRow]:
    r = one((yield Q(
        "SELECT account_id, is_enabled, from_date, to_date, subject, text_body, html_body"
        " FROM jmap_vacation WHERE account_id = ?", (account_id,))))
    if r is None:
        return VacationRow(account_id, False, None, None, None, None, None)
    return VacationRow(int(r[0]), bool(r[1]), r[2], r[3], r[4], r[5], r[6])


def set_vacation(row: VacationRow) -> Op[list[Change]]:
    yield Q(
        "INSERT INTO jmap_vacation (account_id, is_enabled, from_date, to_date, subject,"
        " text_body, html_body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE"
        " SET is_enabled = ?, from_date = ?, to_date = ?, subject = ?, text_body = ?,"
        " html_body = ?",
        (row.account_id, int(row.is_enabled), row.from_date, row.to_date, row.subject,
         row.text_body, row.html_body, int(row.is_enabled), row.from_date, row.to_date,
         row.subject, row.text_body, row.html_body))
    # Any change, even switching the same text off and on, starts a new "already replied"
    # set (RFC 3834 §2; as Sieve vacation does on a changed script, RFC 5230 §4.2).
    yield Q("DELETE FROM jmap_vacation_reply WHERE account_id = ?", (row.account_id,))
    return (yield from _log_one(row.account_id, "VacationResponse", "updated", 1))


# -- composite reads (one snapshot, one round trip: the webmail's hot path) ------------------------

def mailbox_page(account_id: int, mailbox_id: int, position: int, limit: int, *,
                 descending: bool) -> Op[tuple[int, list[int], int] | None]:
    """(account modseq, message ids sorted by receivedAt, total) of one mailbox of the
    account, read in one transaction; None when the mailbox is not the account's."""
    modseq = yield from account_modseq(account_id)
    mb = yield from get_mailbox(mailbox_id)
    if mb is None or mb.account_id != account_id:
        return None
    ids, total = yield from query_mailbox(mailbox_id, position=position, limit=limit,
                                          descending=descending)
    return modseq, ids, total


def messages_at_state(account_id: int, message_ids: Sequence[int]
                      ) -> Op[tuple[int, list[Message]]]:
    """(account modseq, messages) read in one transaction (JMAP /get: state matches data)."""
    modseq = yield from account_modseq(account_id)
    msgs = yield from get_messages(account_id, message_ids)
    return modseq, msgs


def message_versions(account_id: int, message_ids: Sequence[int]
                     ) -> Op[tuple[int, dict[int, int]]]:
    """(account modseq, {message id: modseq}) in one snapshot. A message's modseq changes with
    every change of its flags, keywords or mailboxes, so (id, modseq) names one version of
    everything JMAP's list properties show (the rest of a message is immutable)."""
    modseq = yield from account_modseq(account_id)
    out: dict[int, int] = {}
    ids = list(message_ids)
    for batch in batches(ids):
        rows = yield Q(f"SELECT id, modseq FROM message WHERE account_id = ? AND id IN"
                       f" ({placeholders(len(batch))})", (account_id, *batch))
        out.update((int(r[0]), int(r[1])) for r in rows)
    return modseq, out


# -- Email/query compiled to SQL (RFC 8621 §4.4) ---------------------------------------------------
#
# The protocol layer turns a JMAP FilterCondition/FilterOperator tree into this neutral tree
# (ids resolved, dates parsed, text queries tokenized by ``core.search_tokens``):
#
#   ("and" | "or" | "not", (node, ...))    NOT = none of the conditions
#   ("true",) | ("false",)
#   ("mailbox", mailbox_id)                 in that mailbox
#   ("mailbox_other_than", (id, ...))       in some mailbox not listed
#   ("before", ts) | ("after", ts)          received_at < ts | received_at >= ts
#   ("min_size", n) | ("max_size", n)       size >= n | size < n
#   ("attachment", bool)
#   ("keyword", kw)                         has the (lower-case) keyword
#   ("thread_keyword", "all" | "some" | "none", kw)   over every email of the thread
#   ("text", field | None, fts5, tsquery)   substring search (``search_text`` semantics)
#
# Sort components are (property, descending, keyword) with the RFC 8621 property names; ties
# are broken by email id, newest first (the in-memory evaluator's order).

EmailFilter = tuple[Any, ...]
EmailSort = tuple[str, bool, str]

_TEXT_SORTS = frozenset({"from", "to", "subject"})
_MAX_INT = 2**62


@dataclass(frozen=True, slots=True)
class EmailQueryPage:
    """One Email/query window: the account's modseq (read first, in the same transaction), the
    page of email ids, and the total number of results (None when not asked for and not
    needed: a non-empty page or position 0)."""

    modseq: int
    ids: list[int]
    total: int | None


class _Frag:
    """One SQL fragment in both dialects, each with its own parameters."""

    __slots__ = ("pg", "pp", "sl", "sp")

    def __init__(self, sl: str, sp: Sequence[Any] = (), pg: str | None = None,
                 pp: Sequence[Any] | None = None) -> None:
        self.sl, self.sp = sl, list(sp)
        self.pg, self.pp = (sl if pg is None else pg), list(sp if pp is None else pp)

    @staticmethod
    def join(sep: str, parts: Sequence[_Frag], wrap: str = "({})") -> _Frag:
        out = _Frag(wrap.format(sep.join(p.sl for p in parts)), [x for p in parts for x in p.sp],
                    wrap.format(sep.join(p.pg for p in parts)), [x for p in parts for x in p.pp])
        return out


_TRUE = "(1 = 1)"
_FALSE = "(1 = 0)"


def _has_keyword(alias: str, kw: str) -> _Frag:
    """``kw`` is among the email's keywords (system flag bit or keywords column). A keyword
    with whitespace (or empty) can never be stored, so it never matches."""
    if not kw or kw.split() != [kw]:
        return _Frag(_FALSE)
    needle = f" {kw} "
    sl = f"instr(' ' || {alias}.keywords || ' ', ?) > 0"
    pg = f"strpos(' ' || {alias}.keywords || ' ', ?) > 0"
    bit = JMAP_KEYWORDS.get(kw)
    if bit:
        sl = f"(({alias}.flags & {int(bit)}) <> 0 OR {sl})"
        pg = f"(({alias}.flags & {int(bit)}) <> 0 OR {pg})"
    return _Frag(sl, (needle,), pg, (needle,))


def _thread_has(account_id: int, kw: str, *, negate: bool) -> _Frag:
    """EXISTS an email of m's thread that has (``negate``: lacks) ``kw``."""
    has = _has_keyword("t", kw)
    cond = f"NOT ({has.sl})" if negate else has.sl
    pcond = f"NOT ({has.pg})" if negate else has.pg
    head = ("EXISTS (SELECT 1 FROM message t WHERE t.account_id = ? AND t.thread_id = m.thread_id"
            " AND ")
    return _Frag(head + cond + ")", (account_id, *has.sp), head + pcond + ")",
                 (account_id, *has.pp))


def _compile(node: EmailFilter, account_id: int, base_mailbox: int | None) -> _Frag:
    kind = node[0]
    if kind in ("and", "or", "not"):
        parts = [_compile(c, account_id, base_mailbox) for c in node[1]]
        if kind == "and":
            return _Frag.join(" AND ", parts) if parts else _Frag(_TRUE)
        if kind == "or":
            return _Frag.join(" OR ", parts) if parts else _Frag(_FALSE)
        return _Frag.join(" OR ", parts, "(NOT ({}))") if parts else _Frag(_TRUE)
    if kind == "true":
        return _Frag(_TRUE)
    if kind == "false":
        return _Frag(_FALSE)
    if kind == "mailbox":
        mbid = node[1]
        if mbid is None:
            return _Frag(_FALSE)
        if mbid == base_mailbox:  # every candidate row comes from that mailbox
            return _Frag(_TRUE)
        return _Frag("EXISTS (SELECT 1 FROM mailbox_message mx WHERE mx.message_id = m.id"
                     " AND mx.mailbox_id = ?)", (int(mbid),))
    if kind == "mailbox_other_than":
        excl = [int(x) for x in node[1] if x is not None]
        sql = "EXISTS (SELECT 1 FROM mailbox_message mx WHERE mx.message_id = m.id"
        if excl:
            sql += f" AND mx.mailbox_id NOT IN ({placeholders(len(excl))})"
        return _Frag(sql + ")", excl)
    if kind == "before":
        return _Frag("m.received_at < ?", (_clamp(node[1]),))
    if kind == "after":
        return _Frag("m.received_at >= ?", (_clamp(node[1]),))
    if kind == "min_size":
        return _Frag("m.size >= ?", (_clamp(node[1]),))
    if kind == "max_size":
        return _Frag("m.size < ?", (_clamp(node[1]),))
    if kind == "attachment":
        return _Frag("m.has_attachment <> 0" if node[1] else "m.has_attachment = 0")
    if kind == "keyword":
        return _has_keyword("m", node[1])
    if kind == "thread_keyword":
        mode, kw = node[1], node[2]
        if mode == "all":
            f = _thread_has(account_id, kw, negate=True)
            return _Frag(f"NOT {f.sl}", f.sp, f"NOT {f.pg}", f.pp)
        f = _thread_has(account_id, kw, negate=False)
        if mode == "some":
            return f
        if mode == "none":
            return _Frag(f"NOT {f.sl}", f.sp, f"NOT {f.pg}", f.pp)
        raise ValueError(f"thread keyword mode {mode!r}")
    if kind == "text":
        field, fts, tsq = node[1], node[2], node[3]
        if field is not None and field not in SEARCH_FIELDS:
            raise ValueError(f"search field {field!r}")
        match = f"{{{field}}} : ({fts})" if field else fts
        pg = ("m.id IN (SELECT s.message_id FROM search_chunk s WHERE s.account_id = ?"
              " AND s.tsv @@ ?::tsquery")
        pp: list[Any] = [account_id, tsq]
        if field:
            pg += " AND s.field = ?"
            pp.append(field)
        return _Frag("m.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)",
                     (match,), pg + ")", pp)
    raise ValueError(f"unknown filter node {kind!r}")


def _clamp(v: int) -> int:
    return max(-_MAX_INT, min(_MAX_INT, int(v)))


def _sort_key(account_id: int, prop: str, kw: str) -> list[_Frag]:
    """SQL expressions whose values order rows like the in-memory evaluator's sort key (text
    properties return the raw values; Python lower-cases them, see ``_text_key``)."""
    if prop == "receivedAt":
        return [_Frag("m.received_at")]
    if prop == "sentAt":
        return [_Frag("COALESCE(m.sent_at, 0)")]
    if prop == "size":
        return [_Frag("m.size")]
    if prop == "hasKeyword":
        h = _has_keyword("m", kw)
        return [_Frag(f"CASE WHEN {h.sl} THEN 1 ELSE 0 END", h.sp,
                      f"CASE WHEN {h.pg} THEN 1 ELSE 0 END", h.pp)]
    if prop in ("allInThreadHaveKeyword", "someInThreadHaveKeyword"):
        all_ = prop == "allInThreadHaveKeyword"
        f = _thread_has(account_id, kw, negate=all_)
        neg = "NOT " if all_ else ""
        return [_Frag(f"CASE WHEN {neg}{f.sl} THEN 1 ELSE 0 END", f.sp,
                      f"CASE WHEN {neg}{f.pg} THEN 1 ELSE 0 END", f.pp)]
    if prop == "subject":
        return [_Frag("m.subject")]
    if prop in ("from", "to"):
        col = "m.from_addr" if prop == "from" else "m.to_addr"
        return [_Frag(f"json_extract(NULLIF({col}, ''), '$[0][{i}]')", (),
                      f"((NULLIF({col}, '')::jsonb) -> 0 ->> {i})") for i in (0, 1)]
    raise ValueError(f"unknown sort property {prop!r}")


def _row_text_key(prop: str, a: int, b: int, row: Row) -> str:
    return _text_key(prop, row[a:b])


def _text_key(prop: str, vals: Sequence[Any]) -> str:
    if prop == "subject":
        return str(vals[0] or "").lower()
    return str(vals[0] or vals[1] or "").lower()  # the first address: name, else email


def email_query(account_id: int, mailbox_id: int | None, flt: EmailFilter | None,
                sort: Sequence[EmailSort], *, collapse: bool = False, position: int = 0,
                limit: int | None = None, want_total: bool = False) -> Op[EmailQueryPage]:
    """Email/query in one statement: the filter tree compiled to a WHERE clause over the
    account's emails (or, with ``mailbox_id``, over that mailbox's: the caller passes it only
    when the filter requires it at the top level), sorted, threads collapsed to their first
    email in sort order (window function), LIMIT/OFFSET and ``COUNT(*) OVER ()`` for the total.

    ``from``/``to``/``subject`` sorts need Unicode lower-casing, which neither SQLite's
    ``lower`` nor PostgreSQL's (collation dependent) gives: the statement then returns every
    match with its raw sort values and the ordering/window is done here, still one statement."""
    modseq = yield from account_modseq(account_id)
    if mailbox_id is not None:
        base = _Frag("mailbox_message x JOIN message m ON m.id = x.message_id"
                     " WHERE x.mailbox_id = ? AND m.account_id = ?", (mailbox_id, account_id))
    else:
        base = _Frag("message m WHERE m.account_id = ?", (account_id,))
    where = _compile(flt, account_id, mailbox_id) if flt is not None else _Frag(_TRUE)
    frm = _Frag.join(" AND ", [base, where], "{}")
    keys: list[tuple[str, bool, list[_Frag]]] = [
        (prop, desc, _sort_key(account_id, prop, kw)) for prop, desc, kw in sort]
    lim = _MAX_INT if limit is None else max(0, int(limit))
    pos = max(0, int(position))

    if any(prop in _TEXT_SORTS for prop, _, _ in keys):
        cols = [k for _, _, ks in keys for k in ks]
        sel = _Frag.join(", ", [_Frag("m.id, m.thread_id"), *cols], "{}")
        q = _Frag.join(" FROM ", [sel, frm], "SELECT {}")
        rows = yield Q(q.sl, q.sp, pg=q.pg, pg_params=q.pp)
        rows = sorted(rows, key=lambda r: r[0], reverse=True)
        i = 2
        spans = []
        for prop, desc, ks in keys:
            spans.append((prop, desc, i, i + len(ks)))
            i += len(ks)
        for prop, desc, a, b in reversed(spans):  # stable sorts, last component first
            if prop in _TEXT_SORTS:
                text_key: Callable[[Row], Any] = partial(_row_text_key, prop, a, b)
                rows.sort(key=text_key, reverse=desc)
            else:
                rows.sort(key=itemgetter(a), reverse=desc)
        if collapse:
            seen: set[int] = set()
            kept = []
            for r in rows:
                if r[1] not in seen:
                    seen.add(r[1])
                    kept.append(r)
            rows = kept
        return EmailQueryPage(modseq, [int(r[0]) for r in rows[pos:pos + lim]], len(rows))

    count = ", COUNT(*) OVER ()" if want_total else ""
    if not collapse:
        order = _Frag.join(", ", [
            _Frag.join(", ", ks, "{}" + (" DESC" if desc else " ASC")) for _, desc, ks in keys
        ] + [_Frag("m.id DESC")], "{}")
        q = _Frag.join(" ", [_Frag(f"SELECT m.id{count} FROM"), frm, _Frag("ORDER BY"), order,
                             _Frag("LIMIT ? OFFSET ?", (lim, pos))], "{}")
        counter = _Frag.join(" FROM ", [_Frag("COUNT(*)"), frm], "SELECT {}")
    else:
        exprs = [k for _, _, ks in keys for k in ks]
        names = [f"k{i}" for i in range(len(exprs))]
        inner = _Frag.join(", ", [_Frag("m.id AS id, m.thread_id AS tid"),
                                  *[_Frag(f"{e.sl} AS {n}", e.sp, f"{e.pg} AS {n}", e.pp)
                                    for e, n in zip(exprs, names, strict=True)]], "{}")
        inner = _Frag.join(" FROM ", [inner, frm], "SELECT {}")
        dirs: list[str] = []
        j = 0
        for _, desc, ks in keys:
            for _k in ks:
                dirs.append(f"{names[j]} {'DESC' if desc else 'ASC'}")
                j += 1
        order_s = ", ".join([*dirs, "id DESC"])
        q = _Frag.join("", [
            _Frag(f"SELECT id{count} FROM (SELECT id, {', '.join(['tid', *names])},"
                  f" ROW_NUMBER() OVER (PARTITION BY tid ORDER BY {order_s}) AS rn FROM ("),
            inner,
            _Frag(f") a) c WHERE rn = 1 ORDER BY {order_s} LIMIT ? OFFSET ?", (lim, pos))],
            "{}")
        counter = _Frag.join(" FROM ", [_Frag("COUNT(DISTINCT m.thread_id)"), frm],
                             "SELECT {}")
    rows = yield Q(q.sl, q.sp, pg=q.pg, pg_params=q.pp)
    total: int | None = None
    if rows:
        if want_total:
            total = int(rows[0][1])
    elif want_total or pos > 0:
        c = yield Q(counter.sl, counter.sp, pg=counter.pg, pg_params=counter.pp)
        total = int(c[0][0])
    return EmailQueryPage(modseq, [int(r[0]) for r in rows], total)
