"""Email/parse (RFC 8621 §4.9): render blobs (uploads or attached ``message/rfc822`` parts) as
Email objects without storing them."""

from __future__ import annotations

import asyncio
from typing import Any

from rongmail.mime.parse import parse_message
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.compose import blob_bytes
from rongmail.protocols.jmap.mail.emails import PROPERTIES, email_from_parsed
from rongmail.protocols.jmap.methods.email.get import body_options
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import REQUEST_TOO_LARGE, MethodError, SetError
from rongmail.protocols.jmap.standard import get_properties

ARGS = ("accountId", "blobIds", "properties", "bodyProperties", "fetchTextBodyValues",
        "fetchHTMLBodyValues", "fetchAllBodyValues", "maxBodyValueBytes")
DEFAULT = ("messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
           "replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues", "textBody",
           "htmlBody", "attachments")


async def email_parse(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    blob_ids = args.opt_str_list("blobIds") or []
    if len(blob_ids) > call.deps.limits.max_objects_in_get:
        raise MethodError(REQUEST_TOO_LARGE, limit="maxObjectsInGet")
    props = [p for p in get_properties(args, PROPERTIES, DEFAULT) if p != "id"] \
        if args.opt_str_list("properties") is not None else list(DEFAULT)
    opts = body_options(args)
    parsed_out: dict[str, Any] = {}
    not_parsable: list[str] = []
    not_found: list[str] = []
    for b in blob_ids:
        try:
            raw = await blob_bytes(call, b)
        except SetError:
            not_found.append(b)
            continue
        parsed = await asyncio.to_thread(parse_message, raw)
        if not parsed.headers:
            not_parsable.append(b)
            continue
        store_blob = (ids.parse_blob_id(b) or (b, None))[0]
        parsed_out[b] = email_from_parsed(parsed, raw, store_blob, props, opts)
    return {"accountId": call.jmap_account_id, "parsed": parsed_out or None,
            "notParsable": not_parsable or None, "notFound": not_found or None}
