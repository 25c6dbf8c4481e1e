"""A bounded LRU of rendered list-view Email objects, keyed by (message id, message modseq,
properties).

Every property computed from the stored row alone (``mail/emails.py: _ROW_GETTERS``) is either
immutable (subject, addresses, preview, dates, size, thread) or changes the message's modseq
when it changes (keywords, mailboxIds), so a (id, modseq) pair names exactly one rendering.
Email/get then needs one light read of (id, modseq) pairs instead of full rows for the webmail's
hot path. Cached objects are shared between responses and must never be mutated.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

Key = tuple[int, int, tuple[str, ...]]


class RenderCache:
    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Key, dict[str, Any]] = OrderedDict()

    def get(self, key: Key) -> dict[str, Any] | None:
        got = self._items.get(key)
        if got is not None:
            self._items.move_to_end(key)
        return got

    def put(self, key: Key, value: dict[str, Any]) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
