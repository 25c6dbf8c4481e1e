"""SearchSnippet/get (RFC 8621 §5.1): the subject and preview of each email with the text
conditions of the filter marked as ``<mark>...</mark>`` (HTML-escaped otherwise).

Matching is case-insensitive substring matching, the same semantics as the bigram index that
found the email, so a two-character Chinese term is marked inside a longer run of Han
characters with no word segmentation. ``preview`` is null when no term occurs in it.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import text_terms, validate_filter
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import REQUEST_TOO_LARGE, MethodError

ARGS = ("accountId", "filter", "emailIds")


def highlight(text: str, terms: list[str]) -> str | None:
    """Escape ``text`` and wrap every occurrence of a term; None when nothing matched."""
    words = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not words or not text:
        return None
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        last = m.end()
    if last == 0:
        return None
    out.append(html.escape(text[last:]))
    return "".join(out)


def _split_terms(value: str) -> list[str]:
    return [w for w in value.split() if w]


async def search_snippet_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    f = args.opt_obj("filter")
    if f is not None:
        validate_filter(f)
    email_ids = args.opt_str_list("emailIds") or []
    if len(email_ids) > call.deps.limits.max_objects_in_get:
        raise MethodError(REQUEST_TOO_LARGE, limit="maxObjectsInGet")
    terms = text_terms(f)
    subject_terms = [w for k, v in terms if k in ("text", "subject") for w in _split_terms(v)]
    body_terms = [w for k, v in terms if k in ("text", "body") for w in _split_terms(v)]
    db = {jid: ids.decode(ids.EMAIL, jid) for jid in email_ids}
    msgs = {m.id: m for m in await call.deps.reader.messages(
        call.account_id, [i for i in db.values() if i is not None])}
    out, not_found = [], []
    for jid, mid in db.items():
        m = msgs.get(mid) if mid is not None else None
        if m is None:
            not_found.append(jid)
            continue
        out.append({"emailId": jid, "subject": highlight(m.subject, subject_terms),
                    "preview": highlight(m.preview, body_terms)})
    return {"accountId": call.jmap_account_id, "list": out, "notFound": not_found or None}
