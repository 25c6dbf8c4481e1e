"""Email/query evaluation (RFC 8621 §4.4): FilterCondition/FilterOperator trees, sorting and
thread collapsing. Shared by Email/query, Email/queryChanges and SearchSnippet/get.

Two paths:

* the *fast path* — no filter or only ``inMailbox``, sorted by ``receivedAt``, no thread
  collapsing: position/limit are pushed into one indexed SQL query (the webmail's inbox view);
* the general path — the filterable columns of the candidate emails (one mailbox when the
  filter pins one, else the account) are read once and filtered in memory; text conditions
  (``text``, ``from``, ``to``, ``cc``, ``bcc``, ``subject``, ``body``) use the bigram index
  (``Reader.search_text``), which has full substring recall for Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rongmail.core.flags import decode_keywords, jmap_keywords
from rongmail.protocols.jmap.call import Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import (
    INVALID_ARGUMENTS,
    UNSUPPORTED_FILTER,
    UNSUPPORTED_SORT,
    MethodError,
)
from rongmail.store.reader import EmailIndexRow

TEXT_FIELDS = {"text": None, "from": "from_", "to": "to_", "cc": "cc", "bcc": "bcc",
               "subject": "subject", "body": "body"}
_KEYWORD_FILTERS = ("hasKeyword", "notKeyword", "allInThreadHaveKeyword",
                    "someInThreadHaveKeyword", "noneInThreadHaveKeyword")
_THREAD_KEYWORD = frozenset(_KEYWORD_FILTERS[2:])
CONDITIONS = frozenset({"inMailbox", "inMailboxOtherThan", "before", "after", "minSize",
                        "maxSize", "hasAttachment", *TEXT_FIELDS, *_KEYWORD_FILTERS})
SORTS = frozenset({"receivedAt", "sentAt", "size", "from", "to", "subject", "hasKeyword",
                   "allInThreadHaveKeyword", "someInThreadHaveKeyword"})


def parse_utc(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise MethodError(INVALID_ARGUMENTS, f"'{name}' must be a UTCDate")
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise MethodError(INVALID_ARGUMENTS, f"'{name}' must be a UTCDate") from None


def _conditions(f: dict[str, Any]) -> Iterable[dict[str, Any]]:
    if "operator" in f:
        for c in f.get("conditions") or []:
            if isinstance(c, dict):
                yield from _conditions(c)
    else:
        yield f


def validate_filter(f: Any) -> None:
    if not isinstance(f, dict):
        raise MethodError(INVALID_ARGUMENTS, "filter must be an object")
    if "operator" in f:
        if f["operator"] not in ("AND", "OR", "NOT") or not isinstance(f.get("conditions"), list):
            raise MethodError(UNSUPPORTED_FILTER, "bad FilterOperator")
        for c in f["conditions"]:
            validate_filter(c)
        return
    bad = [k for k in f if k not in CONDITIONS]
    if bad:
        raise MethodError(UNSUPPORTED_FILTER, f"unsupported condition '{bad[0]}'")
    for k in TEXT_FIELDS:
        if k in f and not isinstance(f[k], str):
            raise MethodError(INVALID_ARGUMENTS, f"'{k}' must be a string")


def text_terms(f: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(condition name, value) of every text condition in the tree (for snippets)."""
    if not f:
        return []
    return [(k, c[k]) for c in _conditions(f) for k in TEXT_FIELDS if isinstance(c.get(k), str)]


@dataclass
class _Env:
    call: Call
    #: rows come from the pinned mailbox / carry their mailbox ids
    from_pinned: bool = False
    memberships: bool = True
    text_hits: dict[tuple[str, str], set[int] | None] = field(default_factory=dict)
    thread_kw: dict[int, list[frozenset[str]]] = field(default_factory=dict)


def _keywords(row: EmailIndexRow) -> frozenset[str]:
    return frozenset(jmap_keywords(row.flags, decode_keywords(row.keywords)))


def _match(env: _Env, row: EmailIndexRow, kws: frozenset[str], f: dict[str, Any]) -> bool:
    op = f.get("operator")
    if op is not None:
        results = (_match(env, row, kws, c) for c in f["conditions"])
        if op == "AND":
            return all(results)
        if op == "OR":
            return any(results)
        return not any(results)
    for k, v in f.items():
        if k == "inMailbox":
            if not env.memberships:
                # only the pinned condition exists and every row is in that mailbox
                continue
            if env.call.resolve(ids.MAILBOX, v) not in row.mailbox_ids:
                return False
        elif k == "inMailboxOtherThan":
            if not isinstance(v, list):
                raise MethodError(INVALID_ARGUMENTS, "inMailboxOtherThan must be a list")
            excluded = {env.call.resolve(ids.MAILBOX, x) for x in v}
            if not set(row.mailbox_ids) - excluded:
                return False
        elif k == "before":
            if row.received_at >= parse_utc(v, k):
                return False
        elif k == "after":
            if row.received_at < parse_utc(v, k):
                return False
        elif k == "minSize":
            if row.size < int(v):
                return False
        elif k == "maxSize":
            if row.size >= int(v):
                return False
        elif k == "hasAttachment":
            if row.has_attachment != bool(v):
                return False
        elif k == "hasKeyword":
            if str(v).lower() not in kws:
                return False
        elif k == "notKeyword":
            if str(v).lower() in kws:
                return False
        elif k in ("allInThreadHaveKeyword", "someInThreadHaveKeyword",
                   "noneInThreadHaveKeyword"):
            sets = env.thread_kw.get(row.thread_id, [kws])
            has = [str(v).lower() in s for s in sets]
            if k == "allInThreadHaveKeyword" and not all(has):
                return False
            if k == "someInThreadHaveKeyword" and not any(has):
                return False
            if k == "noneInThreadHaveKeyword" and any(has):
                return False
        elif k in TEXT_FIELDS:
            hits = env.text_hits[(k, v)]
            if hits is not None and row.id not in hits:
                return False
    return True


def _pinned_mailbox(call: Call, f: dict[str, Any] | None) -> int | None:
    """The mailbox every result must be in, when the filter says so at the top level."""
    if not f:
        return None
    conds = [f] if "operator" not in f else (f["conditions"] if f["operator"] == "AND" else [])
    for c in conds:
        if isinstance(c, dict) and "inMailbox" in c and "operator" not in c:
            return call.resolve(ids.MAILBOX, c["inMailbox"]) or -1
    return None


def _first_addr(s: str) -> str:
    lst = json.loads(s or "[]")
    if not lst:
        return ""
    name, email = lst[0][0], lst[0][1]
    return (name or email).lower()


def _sort(env: _Env, rows: list[EmailIndexRow], kws: dict[int, frozenset[str]],
          sort: list[Any]) -> None:
    rows.sort(key=lambda r: r.id, reverse=True)
    for comp in reversed(sort):
        if not isinstance(comp, dict) or comp.get("property") not in SORTS:
            raise MethodError(UNSUPPORTED_SORT)
        prop = comp["property"]
        rev = comp.get("isAscending", True) is False
        kw = str(comp.get("keyword", "")).lower()
        if prop == "receivedAt":
            rows.sort(key=lambda r: r.received_at, reverse=rev)
        elif prop == "sentAt":
            rows.sort(key=lambda r: r.sent_at or 0, reverse=rev)
        elif prop == "size":
            rows.sort(key=lambda r: r.size, reverse=rev)
        elif prop == "from":
            rows.sort(key=lambda r: _first_addr(r.from_), reverse=rev)
        elif prop == "to":
            rows.sort(key=lambda r: _first_addr(r.to), reverse=rev)
        elif prop == "subject":
            rows.sort(key=lambda r: r.subject.lower(), reverse=rev)
        elif prop == "hasKeyword":
            rows.sort(key=lambda r: kw in kws[r.id], reverse=rev)
        else:
            def thread_key(r: EmailIndexRow, prop: str = prop, kw: str = kw) -> bool:
                has = [kw in s for s in env.thread_kw.get(r.thread_id, [kws[r.id]])]
                return all(has) if prop == "allInThreadHaveKeyword" else any(has)

            rows.sort(key=thread_key, reverse=rev)


DEFAULT_SORT: list[dict[str, Any]] = [{"property": "receivedAt", "isAscending": False}]


def is_fast(f: dict[str, Any] | None, sort: list[Any], collapse: bool) -> bool:
    plain_filter = f is None or (set(f) == {"inMailbox"})
    plain_sort = (len(sort) == 1 and isinstance(sort[0], dict)
                  and sort[0].get("property") == "receivedAt"
                  and set(sort[0]) <= {"property", "isAscending", "collation"})
    return plain_filter and plain_sort and not collapse and f is not None


async def fast_query(call: Call, f: dict[str, Any], sort: list[Any], position: int,
                     limit: int) -> tuple[str, list[str], int]:
    """(queryState, page of ids, total) from one indexed read of one snapshot."""
    mbid = call.resolve(ids.MAILBOX, f["inMailbox"])
    got = None
    if mbid is not None:
        got = await call.deps.reader.mailbox_page(
            call.account_id, mbid, position=position, limit=limit,
            descending=sort[0].get("isAscending", True) is False)
    if got is None:
        return str(await call.deps.reader.modseq(call.account_id)), [], 0
    modseq, found, total = got
    return str(modseq), [ids.encode(ids.EMAIL, i) for i in found], total


async def query_ids(call: Call, f: dict[str, Any] | None, sort: list[Any],
                    collapse: bool) -> list[str]:
    """Every matching email id, sorted (the general path)."""
    return [ids.encode(ids.EMAIL, r.id) for r in await query_rows(call, f, sort, collapse)]


async def query_rows(call: Call, f: dict[str, Any] | None, sort: list[Any],
                     collapse: bool) -> list[EmailIndexRow]:
    """Every matching email's index row, sorted (the general path)."""
    if f is not None:
        validate_filter(f)
    reader = call.deps.reader
    env = _Env(call)
    pinned = _pinned_mailbox(call, f)
    if pinned == -1:
        return []
    needs_threads = (any(k in _THREAD_KEYWORD for c in (_conditions(f) if f else ()) for k in c)
                     or any(isinstance(s, dict) and s.get("property") in _THREAD_KEYWORD
                            for s in sort))
    conds = list(_conditions(f)) if f else []
    mailbox_conds = sum(1 for c in conds for k in c if k in ("inMailbox", "inMailboxOtherThan"))
    # Rows read from the pinned mailbox all satisfy its inMailbox condition; memberships are
    # only read when some other mailbox condition needs them.
    env.from_pinned = pinned is not None and not needs_threads
    memberships = mailbox_conds > (1 if env.from_pinned else 0)
    texts = any(isinstance(s, dict) and s.get("property") in ("from", "to", "subject")
                for s in sort)
    rows = await reader.email_index(call.account_id, pinned if env.from_pinned else None,
                                    memberships=memberships, texts=texts)
    env.memberships = memberships
    kws = {r.id: _keywords(r) for r in rows}
    if needs_threads:
        for r in rows:
            env.thread_kw.setdefault(r.thread_id, []).append(kws[r.id])
    for name, value in text_terms(f):
        if (name, value) not in env.text_hits:
            hits = await reader.search_text(call.account_id, value, field=TEXT_FIELDS[name],
                                            mailbox_id=pinned)
            env.text_hits[(name, value)] = None if hits is None else set(hits)
    if f is not None:
        rows = [r for r in rows if _match(env, r, kws[r.id], f)]
    _sort(env, rows, kws, sort)
    if collapse:
        seen: set[int] = set()
        kept = []
        for r in rows:
            if r.thread_id not in seen:
                seen.add(r.thread_id)
                kept.append(r)
        rows = kept
    return rows
