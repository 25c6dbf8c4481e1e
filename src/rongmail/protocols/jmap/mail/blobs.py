"""Reading JMAP blobs (RFC 8620 §6) with access control: a blob is readable by an account iff
one of its emails or uploads is that blob; a part id selects one decoded MIME part of it."""

from __future__ import annotations

import asyncio

from rongmail.core.models import Account
from rongmail.mime.parse import decode_transfer, parse_message
from rongmail.protocols.jmap.proto import ids
from rongmail.store.reader import Reader


async def read_blob(reader: Reader, account: Account, blob: object) -> bytes | None:
    parsed = ids.parse_blob_id(blob)
    if parsed is None:
        return None
    store_blob, part = parsed
    if not await reader.blob_visible(account.id, store_blob):
        return None
    raw = await reader.message_bytes(account.tenant_id, store_blob)
    if part is None:
        return raw
    root = (await asyncio.to_thread(parse_message, raw)).body
    for p in root.walk():
        if p.part_id == part and p.type != "multipart":
            return decode_transfer(raw[p.body_start:p.end], p.encoding)
    return None
