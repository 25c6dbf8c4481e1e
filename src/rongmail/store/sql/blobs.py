"""Blob reference bookkeeping for garbage collection.

A blob is in use while a message references it (``blob_ref.refs > 0``), the outbound queue
holds it, a ``held`` quarantine row holds it, or a JMAP upload of its account's tenant names it
(``jmap_upload``: a client may use an upload's blob id for as long as the upload row lives,
``workers.housekeeping.UPLOAD_HOURS``; RFC 8620 §6.1). Every query here states the same four.
"""

from __future__ import annotations

from rongmail.store.sql.q import Op, Q, placeholders


def unreferenced(limit: int = 1000) -> Op[list[tuple[int, str]]]:
    """Blobs no message references and neither the outbound queue, the spam quarantine
    (``held`` rows, migration 0005) nor a JMAP upload holds."""
    rows = yield Q(
        "SELECT r.tenant_id, r.blob_id FROM blob_ref r WHERE r.refs <= 0 AND NOT EXISTS"
        " (SELECT 1 FROM queue_message q WHERE q.tenant_id = r.tenant_id"
        " AND q.blob_id = r.blob_id) AND NOT EXISTS (SELECT 1 FROM spam_quarantine s"
        " WHERE s.tenant_id = r.tenant_id AND s.blob_id = r.blob_id"
        " AND s.status = 'held') AND NOT EXISTS (SELECT 1 FROM jmap_upload u JOIN account a"
        " ON a.id = u.account_id WHERE a.tenant_id = r.tenant_id AND u.blob_id = r.blob_id)"
        " LIMIT ?", (limit,))
    return [(int(r[0]), str(r[1])) for r in rows]


def forget(tenant_id: int, blob_ids: list[str]) -> Op[int]:
    """Drop reference rows that are still unreferenced (a concurrent append may have revived
    one: it keeps its row)."""
    if not blob_ids:
        return 0
    rows = yield Q(
        f"DELETE FROM blob_ref WHERE tenant_id = ? AND refs <= 0 AND blob_id IN"
        f" ({placeholders(len(blob_ids))}) RETURNING blob_id", (tenant_id, *blob_ids))
    return len(rows)


def known(tenant_id: int, blob_ids: list[str]) -> Op[set[str]]:
    """Which of ``blob_ids`` are still referenced: by a message row, by the queue, by a
    held quarantine row or by a JMAP upload of the tenant."""
    if not blob_ids:
        return set()
    ph = placeholders(len(blob_ids))
    rows = yield Q(
        f"SELECT blob_id FROM blob_ref WHERE tenant_id = ? AND refs > 0 AND blob_id IN ({ph})"
        f" UNION SELECT blob_id FROM queue_message WHERE tenant_id = ? AND blob_id IN ({ph})"
        f" UNION SELECT blob_id FROM spam_quarantine WHERE tenant_id = ?"
        f" AND status = 'held' AND blob_id IN ({ph})"
        f" UNION SELECT u.blob_id FROM jmap_upload u JOIN account a ON a.id = u.account_id"
        f" WHERE a.tenant_id = ? AND u.blob_id IN ({ph})",
        (tenant_id, *blob_ids, tenant_id, *blob_ids, tenant_id, *blob_ids, tenant_id,
         *blob_ids))
    return {str(r[0]) for r in rows}


def put_inline(tenant_id: int, blob_id: str, data: bytes) -> Op[None]:
    """Keep a small blob's stored bytes in ``blob_inline`` (migration 0101), inside the
    transaction that references it; content already stored (the same id) is kept as it is."""
    yield Q("INSERT INTO blob_inline (tenant_id, blob_id, data) VALUES (?, ?, ?)"
            " ON CONFLICT (tenant_id, blob_id) DO NOTHING", (tenant_id, blob_id, data))


def get_inline(tenant_id: int, blob_id: str) -> Op[bytes | None]:
    """A blob's stored bytes from ``blob_inline``; None when it lives in a file."""
    rows = yield Q("SELECT data FROM blob_inline WHERE tenant_id = ? AND blob_id = ?",
                   (tenant_id, blob_id))
    return bytes(rows[0][0]) if rows else None


_UNREFERENCED_INLINE = (
    " NOT EXISTS (SELECT 1 FROM blob_ref r WHERE r.tenant_id = i.tenant_id"
    " AND r.blob_id = i.blob_id AND r.refs > 0) AND NOT EXISTS (SELECT 1 FROM queue_message q"
    " WHERE q.tenant_id = i.tenant_id AND q.blob_id = i.blob_id) AND NOT EXISTS"
    " (SELECT 1 FROM spam_quarantine s WHERE s.tenant_id = i.tenant_id"
    " AND s.blob_id = i.blob_id AND s.status = 'held') AND NOT EXISTS (SELECT 1 FROM"
    " jmap_upload u JOIN account a ON a.id = u.account_id WHERE a.tenant_id = i.tenant_id"
    " AND u.blob_id = i.blob_id)")


def drop_inline(tenant_id: int, blob_ids: list[str]) -> Op[int]:
    """Delete the ``blob_inline`` rows of ``blob_ids`` that nothing references, checked in the
    same statement: a delivery that references one again commits its ``blob_ref`` row with
    (or before) any use of it, so a row it needs is never dropped (no grace period, unlike
    files, which are written before their reference commits)."""
    if not blob_ids:
        return 0
    rows = yield Q(
        f"DELETE FROM blob_inline AS i WHERE i.tenant_id = ? AND i.blob_id IN"
        f" ({placeholders(len(blob_ids))}) AND{_UNREFERENCED_INLINE} RETURNING blob_id",
        (tenant_id, *blob_ids))
    return len(rows)


def orphan_inline(limit: int = 1000) -> Op[list[tuple[int, str]]]:
    """``blob_inline`` rows without any ``blob_ref`` row (GC dropped the reference row and
    stopped before the data row): candidates for :func:`drop_inline`."""
    rows = yield Q(
        "SELECT i.tenant_id, i.blob_id FROM blob_inline i WHERE NOT EXISTS (SELECT 1 FROM"
        " blob_ref r WHERE r.tenant_id = i.tenant_id AND r.blob_id = i.blob_id) LIMIT ?",
        (limit,))
    return [(int(r[0]), str(r[1])) for r in rows]
