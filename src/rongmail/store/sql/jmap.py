"""Operations for JMAP state beyond the mail model (tables of migration 0004).

Row types here are immutable snapshots that ``store.reader`` re-exports to protocols. Writes that
change JMAP-visible objects (Identity, EmailSubmission) bump ``account.modseq`` once and log their
changes in the same transaction (``store.sql.mail.bump``/``log``), so ``Identity/changes`` and
``EmailSubmission/changes`` (RFC 8620 §5.2) are driven by the one change log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rongmail.core.changes import Change
from rongmail.core.models import Message
from rongmail.errors import NotFound
from rongmail.store.sql.mail import (
    account_modseq,
    bump,
    get_mailbox,
    get_messages,
    log,
    query_mailbox,
)
from rongmail.store.sql.q import Op, Q, one, placeholders

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


def purge_tokens(now: int) -> Op[None]:
    yield Q("DELETE FROM http_token WHERE expires_at <= ?", (now,))


# -- uploads and blob access ----------------------------------------------------------------------

def record_upload(account_id: int, blob_id: str, size: int, type_: str, now: int) -> Op[None]:
    yield Q(
        "INSERT INTO jmap_upload (account_id, blob_id, size, type, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, blob_id) DO UPDATE SET created_at = ?",
        (account_id, blob_id, size, type_, now, now))


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
    for i in range(0, len(ids), 500):
        batch = ids[i:i + 500]
        rows = yield Q(f"SELECT id, modseq FROM message WHERE account_id = ? AND id IN"
                       f" ({placeholders(len(batch))})", (account_id, *batch))
        out.update((int(r[0]), int(r[1])) for r in rows)
    return modseq, out
