"""Blob reference bookkeeping for garbage collection."""

from __future__ import annotations

from rongmail.store.sql.q import Op, Q, placeholders


def unreferenced(limit: int = 1000) -> Op[list[tuple[int, str]]]:
    rows = yield Q("SELECT tenant_id, blob_id FROM blob_ref WHERE refs <= 0 LIMIT ?", (limit,))
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
    if not blob_ids:
        return set()
    rows = yield Q(
        f"SELECT blob_id FROM blob_ref WHERE tenant_id = ? AND blob_id IN"
        f" ({placeholders(len(blob_ids))})", (tenant_id, *blob_ids))
    return {str(r[0]) for r in rows}
