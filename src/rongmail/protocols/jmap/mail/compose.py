"""Building a message from an Email object for Email/set create (RFC 8621 §4.6): headers from
the convenience properties, text/HTML from ``bodyValues``, attachments from uploaded blobs.
Uses ``mime.build.build_message`` so everything produced is valid 7-bit MIME."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rongmail.mime.build import OutgoingPart, build_message
from rongmail.mime.html import html_to_text
from rongmail.mime.model import Addr
from rongmail.protocols.jmap.call import Call
from rongmail.protocols.jmap.mail.blobs import read_blob
from rongmail.protocols.jmap.proto.errors import SetError


def _addrs(obj: dict[str, Any], prop: str) -> list[Addr]:
    v = obj.get(prop)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(a, dict) and isinstance(a.get("email"), str)
                                          for a in v):
        raise SetError("invalidProperties", f"bad {prop}", properties=[prop])
    return [Addr(a.get("name") or "", a["email"]) for a in v]


async def blob_bytes(call: Call, blob: object) -> bytes:
    """The bytes of a JMAP blob the account may read (whole blob or one decoded part)."""
    data = await read_blob(call.deps.reader, call.account, blob)
    if data is None:
        raise SetError("blobNotFound", notFound=[blob])
    return data


def _leaves(part: dict[str, Any]) -> list[dict[str, Any]]:
    subs = part.get("subParts")
    if isinstance(subs, list):
        return [leaf for s in subs if isinstance(s, dict) for leaf in _leaves(s)]
    return [part]


async def compose(call: Call, obj: dict[str, Any], domain: str) -> bytes:
    values = obj.get("bodyValues") or {}
    if not isinstance(values, dict):
        raise SetError("invalidProperties", "bad bodyValues", properties=["bodyValues"])
    text_parts = obj.get("textBody") or []
    html_parts = obj.get("htmlBody") or []
    att_parts = obj.get("attachments") or []
    if "bodyStructure" in obj and isinstance(obj["bodyStructure"], dict):
        for leaf in _leaves(obj["bodyStructure"]):
            if leaf.get("partId") and leaf.get("type") in (None, "text/plain"):
                text_parts.append(leaf)
            elif leaf.get("partId") and leaf.get("type") == "text/html":
                html_parts.append(leaf)
            else:
                att_parts.append(leaf)

    def value_of(parts: Any, prop: str) -> str | None:
        if not isinstance(parts, list):
            raise SetError("invalidProperties", f"bad {prop}", properties=[prop])
        chunks = []
        for p in parts:
            pid = p.get("partId") if isinstance(p, dict) else None
            v = values.get(pid) if pid else None
            if not isinstance(v, dict) or not isinstance(v.get("value"), str):
                raise SetError("invalidProperties", f"missing bodyValue for {prop}",
                               properties=[prop])
            chunks.append(v["value"])
        return "\n".join(chunks) if chunks else None

    text = value_of(text_parts, "textBody")
    html = value_of(html_parts, "htmlBody")
    attachments = []
    for a in att_parts:
        if not isinstance(a, dict) or "blobId" not in a:
            raise SetError("invalidProperties", "attachment without blobId",
                           properties=["attachments"])
        attachments.append(OutgoingPart(
            content_type=str(a.get("type") or "application/octet-stream"),
            data=await blob_bytes(call, a["blobId"]), filename=a.get("name"),
            disposition=str(a.get("disposition") or "attachment"), content_id=a.get("cid")))
    from_ = _addrs(obj, "from") or [Addr(call.account.display_name, call.account.address)]
    reply_to = _addrs(obj, "replyTo")
    sent_at = obj.get("sentAt")
    when = None
    if isinstance(sent_at, str):
        try:
            when = datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
        except ValueError:
            raise SetError("invalidProperties", "bad sentAt", properties=["sentAt"]) from None
    in_reply_to = obj.get("inReplyTo") or []
    references = obj.get("references") or []
    message_id = obj.get("messageId") or []
    extra = [(k[7:].split(":")[0], v) for k, v in obj.items()
             if k.startswith("header:") and isinstance(v, str)]
    subject = obj.get("subject") or ""
    if not isinstance(subject, str):
        raise SetError("invalidProperties", "bad subject", properties=["subject"])
    return build_message(
        from_=from_[0], to=_addrs(obj, "to"), cc=_addrs(obj, "cc"), subject=subject,
        text=text if text is not None else html_to_text(html or ""), html=html,
        domain=domain, reply_to=reply_to[0] if reply_to else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None, references=references,
        attachments=attachments, extra_headers=extra, date=when,
        message_id=message_id[0] if message_id else None,
    )
