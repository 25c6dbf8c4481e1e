"""Operations on ``jmap_vacation_reply`` (migration 0104): the "already replied" set of the
vacation auto-responder (RFC 3834 §2: at most one reply per sender per period).

:func:`claim_reply` is the only write and is atomic: it answers whether a reply may be sent
and, when it may, records it in the same transaction, so two messages from one sender delivered
at the same time still produce a single reply.
"""

from __future__ import annotations

from rongmail.store.sql.q import Op, Q


def claim_reply(account_id: int, sender: str, fingerprint: str, now: int, period: int) -> Op[bool]:
    """True (and the reply recorded) when ``account_id`` has not replied to ``sender`` within
    ``period`` seconds under the VacationResponse identified by ``fingerprint``.

    Rows of the account that no longer count (older than the period, or made under other
    settings) are deleted first. ``sender`` must already be lower-cased."""
    yield Q(
        "DELETE FROM jmap_vacation_reply WHERE account_id = ? AND (replied_at <= ? OR"
        " fingerprint <> ?)",
        (account_id, now - period, fingerprint),
    )
    rows = yield Q(
        "INSERT INTO jmap_vacation_reply (account_id, sender, fingerprint, replied_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, sender) DO NOTHING RETURNING 1",
        (account_id, sender, fingerprint, now),
    )
    return bool(rows)


def replied_senders(account_id: int) -> Op[list[tuple[str, int]]]:
    """(sender, replied_at) of every recorded reply of ``account_id`` (for tests and admin)."""
    rows = yield Q(
        "SELECT sender, replied_at FROM jmap_vacation_reply WHERE account_id = ? ORDER BY sender",
        (account_id,),
    )
    return [(str(r[0]), int(r[1])) for r in rows]
