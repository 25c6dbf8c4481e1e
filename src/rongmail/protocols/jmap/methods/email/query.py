"""Email/query (RFC 8621 §4.4). See ``mail/email_query.py`` for the fast and general paths.

Three paths, tried in order:

* the fast path (only ``inMailbox``, sorted by ``receivedAt``): one indexed page read;
* the SQL path: any other filter tree and sort whose values are well-formed is translated into
  the neutral tree of ``store.sql.jmap.email_query`` and evaluated by the database in one
  statement (LIMIT/OFFSET, ``COUNT(*) OVER ()``, thread collapsing by window function);
* the in-memory evaluator (``mail/email_query.py: query_ids``) for the rest: malformed values
  (its errors depend on the data it meets, so it keeps deciding them) and unknown sorts.

The SQL path returns exactly what the in-memory path returns (same matches, same order, same
window); ``tests/protocol/jmap/test_query_sql.py`` checks that on randomized filters.
"""

from __future__ import annotations

from typing import Any

from rongmail.core.search_tokens import fts5_query, tsquery
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import (
    DEFAULT_SORT,
    SORTS,
    TEXT_FIELDS,
    fast_query,
    is_fast,
    parse_utc,
    query_ids,
    validate_filter,
)
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import INVALID_ARGUMENTS, MethodError
from rongmail.protocols.jmap.standard import QUERY_ARGS, state, window
from rongmail.store.reader import EmailFilter, EmailSort

ARGS = (*QUERY_ARGS, "collapseThreads")

_THREAD_MODES = {"allInThreadHaveKeyword": "all", "someInThreadHaveKeyword": "some",
                 "noneInThreadHaveKeyword": "none"}


class _NotCompilable(Exception):
    pass


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        raise _NotCompilable from None


def _date(v: Any, name: str) -> int:
    try:
        return parse_utc(v, name)
    except Exception:  # noqa: BLE001 - the in-memory path reports it (or not) as it always did
        raise _NotCompilable from None


def _node(call: Call, f: dict[str, Any]) -> EmailFilter:
    op = f.get("operator")
    if op is not None:
        kind = {"AND": "and", "OR": "or", "NOT": "not"}[op]
        return (kind, tuple(_node(call, c) for c in f["conditions"]))
    parts: list[EmailFilter] = []
    for k, v in f.items():
        if k == "inMailbox":
            parts.append(("mailbox", call.resolve(ids.MAILBOX, v)))
        elif k == "inMailboxOtherThan":
            if not isinstance(v, list):
                raise _NotCompilable
            parts.append(("mailbox_other_than",
                          tuple(x for x in (call.resolve(ids.MAILBOX, y) for y in v)
                                if x is not None)))
        elif k == "before":
            parts.append(("before", _date(v, k)))
        elif k == "after":
            parts.append(("after", _date(v, k)))
        elif k == "minSize":
            parts.append(("min_size", _int(v)))
        elif k == "maxSize":
            parts.append(("max_size", _int(v)))
        elif k == "hasAttachment":
            parts.append(("attachment", bool(v)))
        elif k == "hasKeyword":
            parts.append(("keyword", str(v).lower()))
        elif k == "notKeyword":
            parts.append(("not", (("keyword", str(v).lower()),)))
        elif k in _THREAD_MODES:
            parts.append(("thread_keyword", _THREAD_MODES[k], str(v).lower()))
        elif k in TEXT_FIELDS:
            fts, tsq = fts5_query(v), tsquery(v)
            if fts is None or tsq is None:
                parts.append(("true",))  # nothing searchable: matches everything
            else:
                parts.append(("text", TEXT_FIELDS[k], fts, tsq))
        else:
            raise _NotCompilable
    if not parts:
        return ("true",)  # an empty FilterCondition matches every email
    return parts[0] if len(parts) == 1 else ("and", tuple(parts))


def _pinned(call: Call, f: dict[str, Any] | None) -> int | None:
    """The mailbox every result must be in (a top-level ``inMailbox``), to read from."""
    if not f:
        return None
    conds = [f] if "operator" not in f else (f["conditions"] if f["operator"] == "AND" else [])
    for c in conds:
        if isinstance(c, dict) and "inMailbox" in c and "operator" not in c:
            return call.resolve(ids.MAILBOX, c["inMailbox"])
    return None


def compile_query(call: Call, f: dict[str, Any] | None, sort: list[Any]
                  ) -> tuple[int | None, EmailFilter | None, list[EmailSort]] | None:
    """(mailbox to read from, filter tree, sort) for ``Reader.email_query``, or None when the
    in-memory path must decide. ``f`` has passed ``validate_filter``."""
    out_sort: list[EmailSort] = []
    for comp in sort:
        if not isinstance(comp, dict) or comp.get("property") not in SORTS:
            return None
        out_sort.append((comp["property"], comp.get("isAscending", True) is False,
                         str(comp.get("keyword", "")).lower()))
    try:
        tree = _node(call, f) if f is not None else None
    except _NotCompilable:
        return None
    return _pinned(call, f), tree, out_sort


async def email_query(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, ARGS)
    call.check_account(args)
    f = args.opt_obj("filter")
    sort = args.opt_list("sort") or DEFAULT_SORT
    collapse = args.boolean("collapseThreads")
    position = args.integer("position", 0)
    limit = args.opt_int("limit", minimum=0)
    head = {"accountId": call.jmap_account_id, "canCalculateChanges": True,
            "collapseThreads": collapse}
    if (f is not None and is_fast(f, sort, collapse) and args.opt_str("anchor") is None
            and position >= 0):
        if not isinstance(f.get("inMailbox"), str):
            raise MethodError(INVALID_ARGUMENTS, "inMailbox must be an id")
        st, page, total = await fast_query(call, f, sort, position,
                                           limit if limit is not None else 2**31)
        out: dict[str, Any] = {**head, "queryState": st, "position": position, "ids": page}
        if args.boolean("calculateTotal"):
            out["total"] = total
        if limit is not None:
            out["limit"] = limit
        return out
    if f is not None:
        validate_filter(f)
    compiled = compile_query(call, f, sort)
    if compiled is not None:
        return {**head, **await sql_window(call, args, compiled, collapse)}
    st = await state(call)
    all_ids = await query_ids(call, f, sort, collapse)
    return {**head, "queryState": st, **window(call, args, all_ids)}


async def sql_window(call: Call, args: Args,
                     compiled: tuple[int | None, EmailFilter | None, list[EmailSort]],
                     collapse: bool) -> dict[str, Any]:
    """queryState plus RFC 8620 §5.5 position/anchor/limit/total, as ``standard.window``
    computes them over the full result, with the window pushed into SQL where it can be."""
    mailbox, tree, sort = compiled
    reader = call.deps.reader
    position = args.integer("position", 0)
    limit = args.opt_int("limit", minimum=0)
    want_total = args.boolean("calculateTotal")
    if args.opt_str("anchor") is not None or position < 0:
        page = await reader.email_query(call.account_id, mailbox, tree, sort, collapse=collapse)
        all_ids = [ids.encode(ids.EMAIL, i) for i in page.ids]
        return {"queryState": str(page.modseq), **window(call, args, all_ids)}
    page = await reader.email_query(call.account_id, mailbox, tree, sort, collapse=collapse,
                                    position=position, limit=limit, want_total=want_total)
    out: dict[str, Any] = {"queryState": str(page.modseq),
                           "position": position if page.ids or page.total is None
                           else min(position, page.total),
                           "ids": [ids.encode(ids.EMAIL, i) for i in page.ids]}
    if want_total:
        out["total"] = page.total
    return out
