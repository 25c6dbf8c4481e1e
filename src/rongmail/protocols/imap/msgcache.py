"""What FETCH needs of a message that never changes, shared by all sessions of one server.

Role: ``FETCH n BODY[]`` needs a message's blob id and header size, ``FETCH 1:* (FLAGS
ENVELOPE)`` its ENVELOPE; reading the message row for each (and parsing the envelope's
address lists again, RFC 9051 §7.5.2) dominated those commands. :class:`MessageCache` keeps
these immutable parts per message and the rendered ENVELOPE bytes, so a repeated FETCH costs
no store read and no address parsing.

Invariants:

* Keyed by (mailbox id, UIDVALIDITY, UID): RFC 9051 §2.3.1.1 guarantees that a UID names the
  same message for as long as the mailbox keeps its UIDVALIDITY, and UIDs are never reused.
  The stored message id is compared as well, so even a reused row id cannot serve another
  message's data.
* Only fields that never change after delivery are kept (blob id, header size, body
  structure and envelope JSON); flags, keywords, modseq, thread and mailbox memberships always
  come from the view or the store.
* Bounded (:data:`MAX_ENTRIES`, least recently used dropped first): about a kilobyte each.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from rongmail.core.models import Mailbox, Message
from rongmail.mime.model import MimePart

from .message import envelope
from .proto import response as r

__all__ = ["MAX_ENTRIES", "MessageCache", "StaticMessage"]

MAX_ENTRIES = 10_000


class StaticMessage:
    """The immutable part of one message, with lazily built derived forms."""

    __slots__ = ("message_id", "blob_id", "header_size", "_bodystructure", "_envelope",
                 "_tree", "_rendered")  # fmt: skip

    def __init__(self, m: Message) -> None:
        self.message_id = m.id
        self.blob_id = m.blob_id
        self.header_size = m.header_size
        self._bodystructure = m.bodystructure_json
        self._envelope = m.envelope_json
        self._tree: MimePart | None = None
        self._rendered: dict[bool, r.Rendered] | None = None

    @property
    def tree(self) -> MimePart:
        """The MIME tree with byte offsets (parsed from the stored JSON on first use)."""
        if self._tree is None:
            self._tree = MimePart.from_json(json.loads(self._bodystructure))
        return self._tree

    def envelope(self, *, utf8: bool) -> r.Rendered:
        """The ENVELOPE value, rendered once per ``utf8`` mode (RFC 6855 changes quoting)."""
        rendered = self._rendered
        if rendered is None:
            rendered = self._rendered = {}
        out = rendered.get(utf8)
        if out is None:
            env: dict[str, Any] = json.loads(self._envelope)
            out = rendered[utf8] = r.Rendered(r.render(envelope(env), utf8=utf8))
        return out


class MessageCache:
    """LRU of :class:`StaticMessage` by (mailbox id, UIDVALIDITY, UID)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, int, int], StaticMessage] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, mailbox: Mailbox, uid: int, message_id: int) -> StaticMessage | None:
        key = (mailbox.id, mailbox.uidvalidity, uid)
        sm = self._entries.get(key)
        if sm is None or sm.message_id != message_id:
            return None
        self._entries.move_to_end(key)
        return sm

    def put(self, mailbox: Mailbox, uid: int, message: Message) -> StaticMessage:
        key = (mailbox.id, mailbox.uidvalidity, uid)
        sm = self._entries.get(key)
        if sm is None or sm.message_id != message.id:
            sm = StaticMessage(message)
            self._entries[key] = sm
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return sm
