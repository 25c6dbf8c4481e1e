"""Email/get (RFC 8621 §4.2): metadata from the store row; the raw message is read only when
``bodyValues``, ``headers``, ``header:*`` or body-part ``headers`` are requested."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rongmail.core.models import Message
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.emails import (
    BODY_PROPERTIES,
    DEFAULT_BODY_PROPERTIES,
    DEFAULT_PROPERTIES,
    PROPERTIES,
    BodyOptions,
    email_from_message,
    row_renderer,
)
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import INVALID_ARGUMENTS, MethodError
from rongmail.protocols.jmap.standard import (
    GET_ARGS,
    check_get_all,
    get_ids,
    get_properties,
)

ARGS = (*GET_ARGS, "bodyProperties", "fetchTextBodyValues", "fetchHTMLBodyValues",
        "fetchAllBodyValues", "maxBodyValueBytes")


def body_options(args: Args) -> BodyOptions:
    bp = args.opt_str_list("bodyProperties")
    if bp is not None:
        bad = [p for p in bp if p not in BODY_PROPERTIES and not p.startswith("header:")]
        if bad:
            raise MethodError(INVALID_ARGUMENTS, f"unknown body property '{bad[0]}'")
    return BodyOptions(
        body_properties=tuple(bp) if bp is not None else DEFAULT_BODY_PROPERTIES,
        fetch_text=args.boolean("fetchTextBodyValues"),
        fetch_html=args.boolean("fetchHTMLBodyValues"),
        fetch_all=args.boolean("fetchAllBodyValues"),
        max_bytes=args.integer("maxBodyValueBytes", 0, minimum=0),
    )


def needs_raw(props: list[str], opts: BodyOptions) -> bool:
    """Whether the raw message must be read (list views never need it)."""
    if "headers" in props or any(p.startswith("header:") for p in props):
        return True
    if "bodyValues" in props and (opts.fetch_all or opts.fetch_text or opts.fetch_html):
        return True
    parts = {"bodyStructure", "textBody", "htmlBody", "attachments"} & set(props)
    return bool(parts) and "headers" in opts.body_properties


async def email_get(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    want, db_ids = get_ids(call, args, ids.EMAIL)
    props = get_properties(args, PROPERTIES, DEFAULT_PROPERTIES)
    opts = body_options(args)
    reader = call.deps.reader
    if want is None:
        rows = await reader.email_index(call.account_id)
        check_get_all(call, len(rows))
        want = [ids.encode(ids.EMAIL, r.id) for r in rows]
        db_ids = [r.id for r in rows]
    wanted = [i for i in db_ids if i is not None]
    fast = row_renderer(props)
    if fast is not None:
        st, rendered = await _list_view(call, wanted, props, fast)
    else:
        modseq, found = await reader.messages_at_state(call.account_id, wanted)
        st, rendered = str(modseq), {}
        raw_wanted = needs_raw(props, opts)
        for m in found:
            raw = (await reader.message_bytes(call.account.tenant_id, m.blob_id)
                   if raw_wanted else None)
            rendered[m.id] = email_from_message(m, props, raw, opts)
    out: list[dict[str, Any]] = []
    not_found: list[str] = []
    for jid, mid in zip(want, db_ids, strict=True):
        e = rendered.get(mid) if mid is not None else None
        if e is None:
            not_found.append(jid)
        else:
            out.append(e)
    return {"accountId": call.jmap_account_id, "state": st, "list": out,
            "notFound": not_found}


async def _list_view(call: Call, wanted: list[int], props: list[str],
                     render: Callable[[Message], dict[str, Any]]
                     ) -> tuple[str, dict[int, dict[str, Any]]]:
    """Row-only properties: one light (id, modseq) read, then only cache misses are loaded."""
    reader = call.deps.reader
    cache = call.deps.email_cache
    modseq, versions = await reader.message_versions(call.account_id, wanted)
    key_props = tuple(props)
    out: dict[int, dict[str, Any]] = {}
    missing: list[int] = []
    for mid, ver in versions.items():
        hit = cache.get((mid, ver, key_props))
        if hit is None:
            missing.append(mid)
        else:
            out[mid] = hit
    if missing:
        for m in await reader.messages(call.account_id, missing):
            e = render(m)
            out[m.id] = e
            cache.put((m.id, m.modseq, key_props), e)
    return str(modseq), out
