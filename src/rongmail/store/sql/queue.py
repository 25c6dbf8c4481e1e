"""Sans-IO SQL operations of the outbound queue (schema: ``migrations/m0002_queue.py``).

Invariants:

* A message and all its recipients are inserted by one operation (one transaction): a 250
  after DATA means every recipient is durably queued.
* A recipient leaves ``queued``/``deferred`` only through :func:`record_attempt`; terminal
  states (``delivered``, ``failed``) are never left again.
* :func:`claim_due` leases what it returns by moving ``next_attempt_at`` forward, so two
  schedulers (or one restarted after a crash) never start the same attempt twice within a lease.
* A message row is removed by :func:`purge_finished` only when every recipient is terminal and
  every DSN it owed has been queued.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rongmail.errors import Conflict
from rongmail.store.sql.q import Op, Q, QMany, placeholders, scalar

ACTIVE = ("queued", "deferred")
TERMINAL = ("delivered", "failed")


@dataclass(frozen=True, slots=True)
class NewRecipient:
    rcpt: str
    domain: str
    orcpt: str | None = None
    #: RFC 3461 §4.1 NOTIFY value, comma separated (``NEVER`` or SUCCESS/FAILURE/DELAY); None
    #: when the client gave none.
    notify: str | None = None
    role: str = "inbox"


@dataclass(frozen=True, slots=True)
class NewQueued:
    tenant_id: int
    blob_id: str
    size: int
    mail_from: str
    recipients: Sequence[NewRecipient]
    created_at: int
    expires_at: int
    envid: str | None = None
    ret: str | None = None
    smtputf8: bool = False
    body_8bit: bool = False
    source: str = ""
    account_id: int | None = None
    prepend: bytes = b""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    tenant_id: int
    blob_id: str
    size: int
    mail_from: str
    envid: str | None
    ret: str | None
    smtputf8: bool
    body_8bit: bool
    source: str
    account_id: int | None
    prepend: bytes
    held: bool
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class QueuedRecipient:
    id: int
    message_id: int
    rcpt: str
    domain: str
    orcpt: str | None
    notify: str | None
    role: str
    state: str
    attempts: int
    next_attempt_at: int
    last_attempt_at: int | None
    last_code: int | None
    last_status: str | None
    last_reply: str | None
    remote_host: str | None
    delay_notified: bool
    dsn_sent: bool


_MSG_COLS = (
    "id, tenant_id, blob_id, size, mail_from, envid, ret, smtputf8, body_8bit, source, "
    "account_id, prepend, held, created_at, expires_at"
)
_RCPT_COLS = (
    "id, message_id, rcpt, domain, orcpt, notify, role, state, attempts, next_attempt_at, "
    "last_attempt_at, last_code, last_status, last_reply, remote_host, delay_notified, dsn_sent"
)


def _msg(r: tuple) -> QueuedMessage:  # type: ignore[type-arg]
    return QueuedMessage(
        int(r[0]), int(r[1]), r[2], int(r[3]), r[4], r[5], r[6], bool(r[7]), bool(r[8]), r[9],
        r[10], bytes(r[11] or b""), bool(r[12]), int(r[13]), int(r[14]),
    )  # fmt: skip


def _rcpt(r: tuple) -> QueuedRecipient:  # type: ignore[type-arg]
    return QueuedRecipient(
        int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], int(r[8]), int(r[9]), r[10],
        r[11], r[12], r[13], r[14], bool(r[15]), bool(r[16]),
    )  # fmt: skip


def insert_message(m: NewQueued) -> Op[int]:
    rows = yield Q(
        "INSERT INTO queue_message (tenant_id, blob_id, size, mail_from, envid, ret, smtputf8, "
        "body_8bit, source, account_id, prepend, held, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
        (m.tenant_id, m.blob_id, m.size, m.mail_from, m.envid, m.ret, int(m.smtputf8),
         int(m.body_8bit), m.source, m.account_id, m.prepend, m.created_at, m.expires_at),
    )  # fmt: skip
    mid = int(rows[0][0])
    yield QMany(
        "INSERT INTO queue_recipient (message_id, rcpt, domain, orcpt, notify, role, state, "
        "next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
        [(mid, r.rcpt, r.domain.lower(), r.orcpt, r.notify, r.role, m.created_at, m.created_at)
         for r in m.recipients],
    )  # fmt: skip
    return mid


def get_message(message_id: int) -> Op[QueuedMessage | None]:
    rows = yield Q(f"SELECT {_MSG_COLS} FROM queue_message WHERE id = ?", (message_id,))
    return _msg(rows[0]) if rows else None


def get_messages(ids: Sequence[int]) -> Op[dict[int, QueuedMessage]]:
    if not ids:
        return {}
    rows = yield Q(
        f"SELECT {_MSG_COLS} FROM queue_message WHERE id IN ({placeholders(len(ids))})",
        tuple(ids),
    )
    return {int(r[0]): _msg(r) for r in rows}


def recipients_of(message_id: int) -> Op[list[QueuedRecipient]]:
    rows = yield Q(
        f"SELECT {_RCPT_COLS} FROM queue_recipient WHERE message_id = ? ORDER BY id",
        (message_id,),
    )
    return [_rcpt(r) for r in rows]


@dataclass(frozen=True, slots=True)
class QueueSummary:
    message: QueuedMessage
    total: int
    active: int
    next_attempt_at: int | None
    last_reply: str | None


def list_messages(*, limit: int = 1000, held_only: bool = False) -> Op[list[QueueSummary]]:
    where = "WHERE m.held = 1" if held_only else ""
    rows = yield Q(
        f"SELECT {', '.join('m.' + c.strip() for c in _MSG_COLS.split(','))}, "
        "COUNT(r.id), "
        "SUM(CASE WHEN r.state IN ('queued', 'deferred') THEN 1 ELSE 0 END), "
        "MIN(CASE WHEN r.state IN ('queued', 'deferred') THEN r.next_attempt_at END), "
        "MAX(r.last_reply) "
        f"FROM queue_message m LEFT JOIN queue_recipient r ON r.message_id = m.id {where} "
        "GROUP BY m.id ORDER BY m.id LIMIT ?",
        (limit,),
    )
    out = []
    for r in rows:
        nxt = r[17]
        out.append(
            QueueSummary(_msg(r[:15]), int(r[15]), int(r[16] or 0),
                         int(nxt) if nxt is not None else None, r[18])
        )  # fmt: skip
    return out


_DUE = ("FROM queue_recipient r JOIN queue_message m ON m.id = r.message_id "
        "WHERE r.state IN ('queued', 'deferred') AND r.next_attempt_at <= ? AND m.held = 0")


def any_due(now: int) -> Op[bool]:
    """Whether :func:`claim_due` would claim anything at ``now``: one seek of
    ``queue_recipient_due``. The scheduler asks this first, so an idle queue's poll is a
    read, not a write transaction every ``poll_interval`` (each of which, on SQLite, also
    held the write lock and made the event loop's relaxed writes queue behind it)."""
    rows = yield Q(f"SELECT 1 {_DUE} LIMIT 1", (now,))
    return bool(rows)


def claim_due(now: int, lease_until: int, limit: int) -> Op[list[QueuedRecipient]]:
    """Active recipients of unheld messages due at ``now``, leased until ``lease_until``."""
    rows = yield Q(
        f"SELECT {', '.join('r.' + c.strip() for c in _RCPT_COLS.split(','))} "
        f"{_DUE} ORDER BY r.next_attempt_at, r.id LIMIT ?",
        (now, limit),
    )
    got = [_rcpt(r) for r in rows]
    if got:
        yield Q(
            f"UPDATE queue_recipient SET next_attempt_at = ? "
            f"WHERE id IN ({placeholders(len(got))})",
            (lease_until, *[r.id for r in got]),
        )
    return got


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one attempt for one recipient."""

    recipient_id: int
    state: str  # delivered | deferred | failed
    at: int
    next_attempt_at: int
    code: int | None = None
    status: str | None = None
    reply: str | None = None
    remote_host: str | None = None


def record_attempts(attempts: Sequence[Attempt]) -> Op[None]:
    if not attempts:
        return
    yield QMany(
        "UPDATE queue_recipient SET state = ?, attempts = attempts + 1, next_attempt_at = ?, "
        "last_attempt_at = ?, last_code = ?, last_status = ?, last_reply = ?, remote_host = ?, "
        "updated_at = ? WHERE id = ? AND state IN ('queued', 'deferred')",
        [(a.state, a.next_attempt_at, a.at, a.code, a.status, (a.reply or "")[:1000],
          a.remote_host, a.at, a.recipient_id) for a in attempts],
    )  # fmt: skip


def release_lease(recipient_ids: Sequence[int], at: int) -> Op[None]:
    """Make leased recipients due again (an attempt was abandoned, e.g. at shutdown)."""
    if recipient_ids:
        yield Q(
            f"UPDATE queue_recipient SET next_attempt_at = ? WHERE id IN "
            f"({placeholders(len(recipient_ids))}) AND state IN ('queued', 'deferred')",
            (at, *recipient_ids),
        )


def pending_bounces(limit: int = 500) -> Op[list[QueuedRecipient]]:
    """Failed recipients whose failure has not been reported yet (``dsn_sent = 0``)."""
    rows = yield Q(
        f"SELECT {_RCPT_COLS} FROM queue_recipient WHERE state = 'failed' AND dsn_sent = 0 "
        "ORDER BY message_id, id LIMIT ?",
        (limit,),
    )
    return [_rcpt(r) for r in rows]


def settle_notice(
    recipient_ids: Sequence[int], *, delay: bool, notice: NewQueued | None
) -> Op[int | None]:
    """Mark the recipients reported and queue the DSN ``notice`` in ONE transaction, so a
    report is neither lost (crash after marking) nor sent twice (two schedulers racing):
    if any recipient was already marked, raise :class:`Conflict` and keep nothing."""
    if not recipient_ids:
        return None
    col = "delay_notified" if delay else "dsn_sent"
    rows = yield Q(
        f"UPDATE queue_recipient SET {col} = 1 WHERE {col} = 0 AND id IN "
        f"({placeholders(len(recipient_ids))}) RETURNING id",
        tuple(recipient_ids),
    )
    if len(rows) != len(set(recipient_ids)):
        raise Conflict(detail="queue notice already settled")
    if notice is None:
        return None
    return (yield from insert_message(notice))


def set_held(message_id: int, held: bool) -> Op[bool]:
    rows = yield Q(
        "UPDATE queue_message SET held = ? WHERE id = ? RETURNING id", (int(held), message_id)
    )
    return bool(rows)


def retry_now(message_id: int, now: int) -> Op[int]:
    """Make every active recipient of the message due now; returns how many."""
    rows = yield Q(
        "UPDATE queue_recipient SET next_attempt_at = ? "
        "WHERE message_id = ? AND state IN ('queued', 'deferred') RETURNING id",
        (now, message_id),
    )
    return len(rows)


def delete_message(message_id: int) -> Op[QueuedMessage | None]:
    m = yield from get_message(message_id)
    if m is None:
        return None
    yield Q("DELETE FROM queue_recipient WHERE message_id = ?", (message_id,))
    yield Q("DELETE FROM queue_message WHERE id = ?", (message_id,))
    return m


_FINISHED = ("FROM queue_message m WHERE NOT EXISTS ("
             "  SELECT 1 FROM queue_recipient r WHERE r.message_id = m.id AND ("
             "    r.state IN ('queued', 'deferred') OR (r.state = 'failed' AND r.dsn_sent = 0)))")


def any_finished() -> Op[bool]:
    """Whether :func:`purge_finished` would remove anything (read first, as :func:`any_due`)."""
    rows = yield Q(f"SELECT 1 {_FINISHED} LIMIT 1", ())
    return bool(rows)


#: messages removed per :func:`purge_finished` transaction
PURGE_BATCH = 500


def purge_finished(limit: int = PURGE_BATCH) -> Op[list[QueuedMessage]]:
    """Remove messages whose recipients are all terminal and whose DSNs were queued.
    Their blobs stay for the garbage collector (a blob may also back a mailbox message)."""
    rows = yield Q(f"SELECT {_MSG_COLS} {_FINISHED} ORDER BY id LIMIT ?", (limit,))
    done = [_msg(r) for r in rows]
    if done:
        ids = tuple(m.id for m in done)
        yield Q(f"DELETE FROM queue_recipient WHERE message_id IN ({placeholders(len(ids))})", ids)
        yield Q(f"DELETE FROM queue_message WHERE id IN ({placeholders(len(ids))})", ids)
    return done


def queued_blob_ids(tenant_id: int) -> Op[set[str]]:
    """Blobs the queue still references (the blob garbage collector must keep them)."""
    rows = yield Q("SELECT DISTINCT blob_id FROM queue_message WHERE tenant_id = ?", (tenant_id,))
    return {r[0] for r in rows}


def count_active() -> Op[int]:
    rows = yield Q("SELECT COUNT(*) FROM queue_recipient WHERE state IN ('queued', 'deferred')")
    return int(scalar(rows, 0))


# -- MTA-STS policy cache (RFC 8461 §5) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StsPolicyRow:
    domain: str
    policy_id: str
    mode: str
    mx: tuple[str, ...]
    max_age: int
    fetched_at: int


def get_sts_policy(domain: str) -> Op[StsPolicyRow | None]:
    rows = yield Q(
        "SELECT domain, policy_id, mode, mx, max_age, fetched_at FROM mta_sts_policy "
        "WHERE domain = ?",
        (domain,),
    )
    if not rows:
        return None
    r = rows[0]
    return StsPolicyRow(r[0], r[1], r[2], tuple(json.loads(r[3])), int(r[4]), int(r[5]))


def put_sts_policy(p: StsPolicyRow) -> Op[None]:
    yield Q(
        "INSERT INTO mta_sts_policy (domain, policy_id, mode, mx, max_age, fetched_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, "
        "mode = excluded.mode, mx = excluded.mx, max_age = excluded.max_age, "
        "fetched_at = excluded.fetched_at",
        (p.domain, p.policy_id, p.mode, json.dumps(list(p.mx)), p.max_age, p.fetched_at),
    )


def touch_sts_policy(domain: str, fetched_at: int) -> Op[None]:
    """The TXT id is unchanged: the cached policy stays valid for another max_age."""
    yield Q("UPDATE mta_sts_policy SET fetched_at = ? WHERE domain = ?", (fetched_at, domain))
