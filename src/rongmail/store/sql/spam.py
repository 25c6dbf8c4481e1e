"""Spam filtering SQL operations (migrations ``m0005_spam``, ``m0105_spam_contacts``): tenant
settings, the per-tenant content model, the quarantine, the learning log and the tenant's
correspondents (first-contact detection).

Only :mod:`rongmail.actions.spam` runs the write operations; readers (the pipeline stage, the
quarantine HTTP API, the digest worker) run the read operations through ``meta.read``.
Quarantine rows keep their blob alive for garbage collection while ``status`` is ``held`` (see
:mod:`rongmail.store.sql.blobs`); a released copy is referenced by the message or queue row its
release created, and a ``deleted`` (or expired) row references nothing, so decided rows can be
deleted after a retention period (:func:`purge_decided`) without changing what GC keeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rongmail.errors import Conflict, NotFound, TooLarge
from rongmail.store.sql.q import Op, Q, one

#: Upper bound of one serialized tenant model (a ``bits=20`` model is ~8 MiB before
#: compression); a larger blob is refused rather than stored.
MAX_MODEL_BYTES = 12 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpamSettingsRow:
    tenant_id: int
    enabled: bool
    junk: float
    quarantine: float
    reject: float
    weights: dict[str, float]
    digest: bool
    updated_at: int


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    tenant_id: int
    account_id: int | None
    direction: str  # inbound | outbound
    blob_id: str
    size: int
    mail_from: str
    rcpts: tuple[str, ...]
    from_header: str
    subject: str
    score: float
    tags: tuple[dict[str, Any], ...]
    status: str  # held | released | deleted
    created_at: int
    expires_at: int
    decided_at: int | None
    decided_by: int | None
    digested_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "accountId": self.account_id, "direction": self.direction,
            "size": self.size, "mailFrom": self.mail_from, "rcpts": list(self.rcpts),
            "from": self.from_header, "subject": self.subject, "score": self.score,
            "tags": list(self.tags), "status": self.status, "createdAt": self.created_at,
            "expiresAt": self.expires_at, "decidedAt": self.decided_at,
            "decidedBy": self.decided_by,
        }


@dataclass(frozen=True, slots=True)
class NewQuarantine:
    tenant_id: int
    account_id: int | None
    direction: str
    blob_id: str
    size: int
    mail_from: str
    rcpts: tuple[str, ...]
    from_header: str
    subject: str
    score: float
    tags: tuple[dict[str, Any], ...]
    created_at: int
    expires_at: int


_QCOLS = ("id, tenant_id, account_id, direction, blob_id, size, mail_from, rcpts, from_header,"
          " subject, score, tags, status, created_at, expires_at, decided_at, decided_by,"
          " digested_at")


def _qrow(r: Sequence[Any]) -> QuarantineRow:
    return QuarantineRow(
        int(r[0]), int(r[1]), None if r[2] is None else int(r[2]), str(r[3]), str(r[4]),
        int(r[5]), str(r[6]), tuple(json.loads(r[7] or "[]")), str(r[8]), str(r[9]),
        float(r[10]), tuple(json.loads(r[11] or "[]")), str(r[12]), int(r[13]), int(r[14]),
        None if r[15] is None else int(r[15]), None if r[16] is None else int(r[16]),
        None if r[17] is None else int(r[17]),
    )


# -- settings ---------------------------------------------------------------------------------


def get_settings(tenant_id: int) -> Op[SpamSettingsRow | None]:
    r = one((yield Q(
        "SELECT tenant_id, enabled, junk_score, quarantine_score, reject_score, weights, digest,"
        " updated_at FROM spam_settings WHERE tenant_id = ?", (tenant_id,))))
    if r is None:
        return None
    weights = {str(k): float(v) for k, v in json.loads(r[5] or "{}").items()}
    return SpamSettingsRow(int(r[0]), bool(r[1]), float(r[2]), float(r[3]), float(r[4]),
                           weights, bool(r[6]), int(r[7]))


def put_settings(row: SpamSettingsRow) -> Op[None]:
    yield Q(
        "INSERT INTO spam_settings (tenant_id, enabled, junk_score, quarantine_score,"
        " reject_score, weights, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled,"
        " junk_score = excluded.junk_score, quarantine_score = excluded.quarantine_score,"
        " reject_score = excluded.reject_score, weights = excluded.weights,"
        " digest = excluded.digest, updated_at = excluded.updated_at",
        (row.tenant_id, int(row.enabled), row.junk, row.quarantine, row.reject,
         json.dumps(row.weights, sort_keys=True), int(row.digest), row.updated_at))


# -- model ------------------------------------------------------------------------------------


def get_model(tenant_id: int) -> Op[bytes | None]:
    r = one((yield Q("SELECT data FROM spam_model WHERE tenant_id = ?", (tenant_id,))))
    return None if r is None else bytes(r[0])


def put_model(tenant_id: int, data: bytes, n_spam: int, n_ham: int, now: int) -> Op[None]:
    if len(data) > MAX_MODEL_BYTES:
        raise TooLarge(limit=MAX_MODEL_BYTES)
    yield Q(
        "INSERT INTO spam_model (tenant_id, data, n_spam, n_ham, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET data = excluded.data,"
        " n_spam = excluded.n_spam, n_ham = excluded.n_ham, updated_at = excluded.updated_at",
        (tenant_id, data, n_spam, n_ham, now))


# -- quarantine -------------------------------------------------------------------------------


def add_quarantine(rows: Sequence[NewQuarantine]) -> Op[list[int]]:
    ids: list[int] = []
    for n in rows:
        got = yield Q(
            "INSERT INTO spam_quarantine (tenant_id, account_id, direction, blob_id, size,"
            " mail_from, rcpts, from_header, subject, score, tags, status, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?, ?) RETURNING id",
            (n.tenant_id, n.account_id, n.direction, n.blob_id, n.size, n.mail_from,
             json.dumps(list(n.rcpts)), n.from_header[:500], n.subject[:500], n.score,
             json.dumps(list(n.tags), ensure_ascii=False), n.created_at, n.expires_at))
        ids.append(int(got[0][0]))
    return ids


def get_quarantine(qid: int) -> Op[QuarantineRow | None]:
    r = one((yield Q(f"SELECT {_QCOLS} FROM spam_quarantine WHERE id = ?", (qid,))))
    return None if r is None else _qrow(r)


def list_quarantine(
    *, tenant_id: int | None = None, account_id: int | None = None, status: str | None = "held",
    direction: str | None = None, before_id: int | None = None, limit: int = 100,
) -> Op[list[QuarantineRow]]:
    """Newest first; every filter given narrows the list (``before_id`` pages)."""
    where: list[str] = []
    params: list[Any] = []
    for col, val in (("tenant_id", tenant_id), ("account_id", account_id), ("status", status),
                     ("direction", direction)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    rows = yield Q(f"SELECT {_QCOLS} FROM spam_quarantine{cond} ORDER BY id DESC LIMIT ?",
                   (*params, max(1, min(limit, 1000))))
    return [_qrow(r) for r in rows]


def decide_quarantine(qid: int, status: str, actor: int | None, now: int) -> Op[QuarantineRow]:
    """Move a held row to ``released`` or ``deleted``; only ``held`` rows may change."""
    row = yield from get_quarantine(qid)
    if row is None:
        raise NotFound(what=f"quarantine {qid}")
    if row.status != "held":
        raise Conflict(detail=f"quarantine {qid} is {row.status}")
    yield Q("UPDATE spam_quarantine SET status = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ? AND status = 'held'", (status, now, actor, qid))
    return replace(row, status=status, decided_at=now, decided_by=actor)


def reopen_quarantine(qid: int) -> Op[None]:
    """Undo a release whose delivery failed: the row is held again (and keeps its blob)."""
    yield Q("UPDATE spam_quarantine SET status = 'held', decided_at = NULL, decided_by = NULL"
            " WHERE id = ? AND status = 'released'", (qid,))


def undigested(account_id: int | None = None, limit: int = 500) -> Op[list[QuarantineRow]]:
    """Held inbound rows not yet announced in a digest (oldest first)."""
    cond = " AND account_id = ?" if account_id is not None else ""
    params: tuple[Any, ...] = (account_id,) if account_id is not None else ()
    rows = yield Q(
        f"SELECT {_QCOLS} FROM spam_quarantine WHERE status = 'held' AND direction = 'inbound'"
        f" AND account_id IS NOT NULL AND digested_at IS NULL{cond} ORDER BY id LIMIT ?",
        (*params, limit))
    return [_qrow(r) for r in rows]


def mark_digested(ids: Sequence[int], now: int) -> Op[None]:
    for qid in ids:
        yield Q("UPDATE spam_quarantine SET digested_at = ? WHERE id = ?", (now, qid))


#: held rows marked expired per :func:`purge_expired` transaction
EXPIRE_BATCH = 1000
#: decided rows deleted per :func:`purge_decided` transaction
PURGE_BATCH = 5000


def purge_expired(now: int, limit: int = EXPIRE_BATCH) -> Op[int]:
    """Mark at most ``limit`` held rows past ``expires_at`` deleted (their blobs become
    collectable), the oldest first; returns how many, and a caller repeats while it is
    ``limit`` (marked rows are no longer held, so each call moves on)."""
    rows = yield Q("UPDATE spam_quarantine SET status = 'deleted', decided_at = ? WHERE id IN"
                   " (SELECT id FROM spam_quarantine WHERE status = 'held' AND expires_at < ?"
                   " ORDER BY id LIMIT ?) AND status = 'held' RETURNING id", (now, now, limit))
    return len(rows)


def purge_decided(before: int, limit: int = PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` rows released or deleted (by a person or by expiry) before
    ``before``; returns how many, and a caller repeats while it is ``limit``.

    Blob GC is unaffected: it counts only ``held`` rows as references (``store.sql.blobs``),
    so a decided row already keeps nothing alive, and a blob a held row (of the same content)
    still needs keeps that row's reference. A released message lives on in the message or
    queue row its release created. ``released`` and ``deleted`` are the final states, except
    that a release whose delivery fails is reopened (:func:`reopen_quarantine`) moments after
    its decision: with ``before`` a retention period ago, that row is never among those. The
    newest row is kept: SQLite would hand its id (in digest mails and release links) to the
    next quarantined message."""
    rows = yield Q("DELETE FROM spam_quarantine WHERE id IN (SELECT id FROM spam_quarantine"
                   " WHERE status IN ('released', 'deleted') AND decided_at < ?"
                   " AND id < (SELECT MAX(id) FROM spam_quarantine) ORDER BY id LIMIT ?)"
                   " RETURNING 1", (before, limit))
    return len(rows)


# -- learning log -----------------------------------------------------------------------------


def learned_labels(account_id: int, message_ids: Sequence[int]) -> Op[dict[int, str]]:
    if not message_ids:
        return {}
    ph = ",".join("?" * len(message_ids))
    rows = yield Q(f"SELECT message_id, label FROM spam_learned WHERE account_id = ?"
                   f" AND message_id IN ({ph})", (account_id, *message_ids))
    return {int(r[0]): str(r[1]) for r in rows}


def record_learned(account_id: int, items: Sequence[tuple[int, str]], now: int) -> Op[None]:
    for message_id, label in items:
        yield Q("INSERT INTO spam_learned (account_id, message_id, label, learned_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, message_id) DO UPDATE SET"
                " label = excluded.label, learned_at = excluded.learned_at",
                (account_id, message_id, label, now))


#: ``spam_learned`` rows deleted per :func:`purge_orphan_learned` transaction
LEARNED_PURGE_BATCH = 5000


def purge_orphan_learned(limit: int = LEARNED_PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` ``spam_learned`` rows whose message is gone (expunged or
    destroyed: the table has no foreign key to ``message``); returns how many, and a caller
    repeats while it is ``limit``.

    Invariant: a row whose message still exists in its account is never touched, so the
    learner's "already learned with this label" check (:func:`learned_labels`) is unchanged for
    every message a user can still move or flag. :func:`record_learned` only records messages
    read from that account (``message.account_id`` = the row's ``account_id``), so the anti-join
    matches on both; a row recorded just after its message went is removed by the next purge.
    ``message.id`` is the primary key, so each row's probe is one index lookup."""
    rows = yield Q(
        "DELETE FROM spam_learned WHERE (account_id, message_id) IN (SELECT l.account_id,"
        " l.message_id FROM spam_learned l WHERE NOT EXISTS (SELECT 1 FROM message m"
        " WHERE m.id = l.message_id AND m.account_id = l.account_id) LIMIT ?) RETURNING 1",
        (limit,))
    return len(rows)


# -- correspondents (m0105) -------------------------------------------------------------------

#: Most addresses one ``note_contacts`` call records (a submission's recipients are bounded by
#: ``smtp.max_recipients``; this guards other callers).
MAX_CONTACTS_PER_CALL = 1000


def contact_counts(tenant_id: int, keys: Sequence[str]) -> Op[dict[str, tuple[int, int]]]:
    """``{key: (sent, received)}`` for the given addresses / ``@domain`` keys (primary-key
    lookups; absent keys are first contacts)."""
    keys = list(dict.fromkeys(keys))[:20]
    if not keys:
        return {}
    ph = ",".join("?" * len(keys))
    rows = yield Q(f"SELECT address, sent, received FROM spam_contact WHERE tenant_id = ?"
                   f" AND address IN ({ph})", (tenant_id, *keys))
    return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


def note_contacts(tenant_id: int, keys: Sequence[str], *, sent: int, received: int,
                  now: int) -> Op[None]:
    """Count one message sent to / received from each key (upsert)."""
    for key in list(dict.fromkeys(keys))[:MAX_CONTACTS_PER_CALL]:
        yield Q("INSERT INTO spam_contact (tenant_id, address, sent, received, first_at,"
                " last_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, address) DO UPDATE"
                " SET sent = spam_contact.sent + excluded.sent,"
                " received = spam_contact.received + excluded.received,"
                " last_at = excluded.last_at",
                (tenant_id, key, sent, received, now, now))
