"""``Reader.message_bytes``: small blobs of a store with ``get_sync`` are read inline, the
rest (large, unknown size, or a store without ``get_sync``) through the async ``get``."""

from __future__ import annotations

from typing import Any

from rongmail.store.reader import INLINE_BLOB_MAX, Reader


class _Blobs:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_sync(self, tenant_id: int, blob_id: str) -> bytes:
        self.calls.append("sync")
        return b"x"

    async def get(self, tenant_id: int, blob_id: str) -> bytes:
        self.calls.append("async")
        return b"x"


class _AsyncOnly:
    async def get(self, tenant_id: int, blob_id: str) -> bytes:
        return b"y"


async def test_inline_only_for_small_known_sizes() -> None:
    blobs = _Blobs()
    reader = Reader(meta=None, blobs=blobs)  # type: ignore[arg-type]
    assert await reader.message_bytes(1, "b", size_hint=5000) == b"x"
    await reader.message_bytes(1, "b", size_hint=INLINE_BLOB_MAX + 1)
    await reader.message_bytes(1, "b")
    assert blobs.calls == ["sync", "async", "async"]
    other: Any = _AsyncOnly()
    assert await Reader(meta=None, blobs=other).message_bytes(1, "b", size_hint=10) == b"y"  # type: ignore[arg-type]
