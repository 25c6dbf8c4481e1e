"""The maildrop of one POP3 session: a numbered snapshot of the account's inbox (RFC 1939 §5).

Role: when a session enters the TRANSACTION state it takes a snapshot of the inbox, numbered
1..n in UID order. Messages delivered later are not seen until the next session, and message
numbers never change inside a session (RFC 1939 §5). DELE only marks; RSET unmarks; the marked
messages are removed when QUIT enters the UPDATE state (``commands/quit.py``), which also flags
the messages RETR sent as ``\\Seen`` (as Dovecot does), so webmail and IMAP show them read.

Invariants:

* The unique-id of a message (RFC 1939 §7 UIDL) is ``"<uidvalidity>.<uid>"`` of its inbox
  membership: stable across sessions and restarts, never reused while UIDVALIDITY stands (it
  changes only when the inbox is recreated, and then every id changes, which is what clients
  need to refetch). Both parts are decimal, so the id is within the 0x21-0x7E, 70-octet limit.
* Sizes are the canonical wire sizes (:func:`~.proto.wire.wire_size`), so LIST, STAT and the
  octets RETR sends always agree. Blobs are content-addressed and immutable, so a size computed
  once is cached for the life of the process (:class:`WireSizes`).
* At most one session per account holds the maildrop (:class:`MaildropLocks`); a second one is
  refused with ``[IN-USE]`` (RFC 2449 §8.1.1). The lock is per process: one node.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from rongmail.core.flags import SEEN
from rongmail.core.models import Account
from rongmail.errors import NotFound, ValidationError
from rongmail.store.reader import Reader

from .proto.wire import canonical, message_response, wire_size

log = logging.getLogger("rongmail.pop3")

#: Message ids per ``Reader.messages`` call (keeps SQL parameter lists short).
_BATCH: Final = 500
#: Blobs read concurrently while computing sizes the cache does not know.
_PARALLEL: Final = 8
#: Messages larger than this are measured off the event loop.
_THREAD_OVER: Final = 256 * 1024


@dataclass(slots=True)
class Item:
    number: int
    uid: int
    message_id: int
    blob_id: str
    size: int
    seen: bool = False
    deleted: bool = False
    #: RETR sent it in this session (marked \Seen at QUIT when ``mark_seen`` is on).
    retrieved: bool = False


def parse_number(arg: str) -> int:
    """A decimal argument (RFC 1939 §3): a message number, or the line count of TOP, which
    clients set to "everything" with huge values (fetchmail sends ``TOP 1 99999999``)."""
    if not arg.isascii() or not arg.isdigit() or len(arg) > 20:
        raise ValidationError("pop3.err.syntax")
    return int(arg)


class Maildrop:
    def __init__(
        self, account_id: int, tenant_id: int, mailbox_id: int, uidvalidity: int,
        items: list[Item],
    ) -> None:
        self.account_id = account_id
        self.tenant_id = tenant_id
        self.mailbox_id = mailbox_id
        self.uidvalidity = uidvalidity
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def live(self) -> Iterator[Item]:
        """Messages not marked as deleted, in number order."""
        return (i for i in self._items if not i.deleted)

    def stat(self) -> tuple[int, int]:
        """(count, octets) of the messages not marked as deleted (RFC 1939 §5 STAT)."""
        count = octets = 0
        for item in self.live():
            count += 1
            octets += item.size
        return count, octets

    def get(self, arg: str) -> Item:
        """The live message numbered ``arg``; NotFound when out of range or deleted."""
        n = parse_number(arg)
        if not 1 <= n <= len(self._items):
            raise NotFound("pop3.err.no_such_message", n=n)
        item = self._items[n - 1]
        if item.deleted:
            raise NotFound("pop3.err.deleted", n=n)
        return item

    def unique_id(self, item: Item) -> str:
        return f"{self.uidvalidity}.{item.uid}"

    def reset(self) -> None:
        for item in self._items:
            item.deleted = False

    def deleted_ids(self) -> list[int]:
        return [i.message_id for i in self._items if i.deleted]

    def deleted_uids(self) -> list[int]:
        """Inbox UIDs marked by DELE: QUIT removes these memberships, not the emails."""
        return [i.uid for i in self._items if i.deleted]

    def newly_read_ids(self) -> list[int]:
        """Messages retrieved in this session, kept, and not yet ``\\Seen``."""
        return [i.message_id for i in self.live() if i.retrieved and not i.seen]


class WireSizes:
    """A bounded LRU cache: (tenant id, blob id) -> canonical size in octets."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple[int, str], int] = OrderedDict()

    def get(self, tenant_id: int, blob_id: str) -> int | None:
        key = (tenant_id, blob_id)
        size = self._data.get(key)
        if size is not None:
            self._data.move_to_end(key)
        return size

    def put(self, tenant_id: int, blob_id: str, size: int) -> None:
        self._data[(tenant_id, blob_id)] = size
        self._data.move_to_end((tenant_id, blob_id))
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)


async def measure(raw: bytes) -> int:
    if len(raw) > _THREAD_OVER:
        return await asyncio.to_thread(wire_size, raw)
    return wire_size(raw)


async def message_data(reader: Reader, drop: Maildrop, item: Item) -> bytes:
    """The canonical bytes of ``item`` (RETR, TOP); large messages are converted off the loop."""
    raw = await reader.message_bytes(drop.tenant_id, item.blob_id)
    data = await asyncio.to_thread(canonical, raw) if len(raw) > _THREAD_OVER else canonical(raw)
    if len(data) != item.size:  # a broken invariant: the blob is content-addressed
        log.error("pop3: message %d is %d octets, listed as %d", item.message_id, len(data),
                  item.size)
    return data


async def render_message(head: bytes, data: bytes) -> bytes:
    """``head``, the byte-stuffed ``data`` and the terminator, off the loop when large."""
    if len(data) > _THREAD_OVER:
        return await asyncio.to_thread(message_response, head, data)
    return message_response(head, data)


async def load_maildrop(reader: Reader, account: Account, sizes: WireSizes) -> Maildrop:
    """Snapshot ``account``'s inbox. Raises NotFound when the account has no inbox."""
    inbox = await reader.mailbox_by_role(account.id, "inbox")
    if inbox is None:
        raise NotFound("pop3.err.no_inbox", detail=f"account {account.id} has no inbox")
    entries = sorted(await reader.mailbox_entries(inbox.id), key=lambda e: e.uid)
    stored: dict[int, tuple[str, int]] = {}  # message id -> (blob id, stored size)
    ids = [e.message_id for e in entries]
    for start in range(0, len(ids), _BATCH):
        for msg in await reader.messages(account.id, ids[start:start + _BATCH]):
            stored[msg.id] = (msg.blob_id, msg.size)
    tenant = account.tenant_id
    items: list[Item] = []
    for e in entries:
        if e.message_id not in stored:  # destroyed between the two reads
            continue
        items.append(Item(len(items) + 1, e.uid, e.message_id, stored[e.message_id][0], -1,
                          seen=bool(e.flags & SEEN)))
    limit = asyncio.Semaphore(_PARALLEL)

    async def fill(item: Item) -> None:
        async with limit:
            try:
                raw = await reader.message_bytes(tenant, item.blob_id)
            except Exception:
                # one unreadable blob must not lock the user out of the whole maildrop: list
                # it with its stored size; RETR of it fails on its own
                log.exception("pop3: message %d of account %d is unreadable", item.message_id,
                              account.id)
                item.size = stored[item.message_id][1]
                return
            item.size = await measure(raw)
        sizes.put(tenant, item.blob_id, item.size)

    missing = []
    for item in items:
        known = sizes.get(tenant, item.blob_id)
        if known is None:
            missing.append(fill(item))
        else:
            item.size = known
    if missing:
        await asyncio.gather(*missing)
    return Maildrop(account.id, tenant, inbox.id, inbox.uidvalidity, items)


class MaildropLocks:
    """Which session holds each account's maildrop (one per account, RFC 1939 §8)."""

    def __init__(self) -> None:
        self._holders: dict[int, object] = {}

    def acquire(self, account_id: int, owner: object) -> bool:
        holder = self._holders.setdefault(account_id, owner)
        return holder is owner

    def release(self, account_id: int, owner: object) -> None:
        if self._holders.get(account_id) is owner:
            del self._holders[account_id]

    def held(self, account_id: int) -> bool:
        return account_id in self._holders
