"""Tailing the change log by row id (the cross-process / cross-node change follower).

``change_log.id`` grows with every appended row. On SQLite the writer lock makes id order equal
commit order; on PostgreSQL a sequence value is taken before commit, so a later id can become
visible before an earlier one (``bus.follower`` waits a little for such gaps).
"""

from __future__ import annotations

from rongmail.core.changes import Change
from rongmail.store.sql.q import Op, Q


def last_change_id() -> Op[int]:
    """The highest change row id now (0 for an empty log): where a new follower starts."""
    rows = yield Q("SELECT MAX(id) FROM change_log")
    return int(rows[0][0] or 0)


def changes_after_id(after_id: int, limit: int = 5000) -> Op[list[tuple[int, Change]]]:
    """Change rows with ``id > after_id``, in id order, as ``(id, Change)``."""
    rows = yield Q(
        "SELECT id, account_id, modseq, type, action, object_id, mailbox_id, uid FROM change_log"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    )
    return [(int(r[0]), Change(*r[1:])) for r in rows]
