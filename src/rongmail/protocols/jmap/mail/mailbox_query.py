"""Mailbox/query filtering and sorting (RFC 8621 §2.3), shared by /query and /queryChanges."""

from __future__ import annotations

from typing import Any

from rongmail.core.models import Mailbox
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import UNSUPPORTED_FILTER, UNSUPPORTED_SORT, MethodError

_FILTERS = ("parentId", "name", "role", "hasAnyRole", "isSubscribed")


def _match(call: Call, mb: Mailbox, f: dict[str, Any]) -> bool:
    op = f.get("operator")
    if op is not None:
        conds = f.get("conditions")
        if op not in ("AND", "OR", "NOT") or not isinstance(conds, list):
            raise MethodError(UNSUPPORTED_FILTER, "bad FilterOperator")
        results = [_match(call, mb, c) for c in conds if isinstance(c, dict)]
        if op == "AND":
            return all(results)
        if op == "OR":
            return any(results)
        return not any(results)
    for key, value in f.items():
        if key not in _FILTERS:
            raise MethodError(UNSUPPORTED_FILTER, f"unknown filter '{key}'")
        if key == "parentId":
            want = 0 if value is None else call.resolve(ids.MAILBOX, value)
            if mb.parent_id != want:
                return False
        elif key == "name":
            if not isinstance(value, str) or value.lower() not in mb.name.lower():
                return False
        elif key == "role":
            if mb.role != value:
                return False
        elif key == "hasAnyRole":
            if (mb.role is not None) != bool(value):
                return False
        elif key == "isSubscribed" and mb.subscribed != bool(value):
            return False
    return True


async def mailbox_query_ids(call: Call, args: Args) -> list[str]:
    mailboxes = await call.deps.reader.mailboxes(call.account_id)
    f = args.opt_obj("filter")
    if f is not None:
        mailboxes = [m for m in mailboxes if _match(call, m, f)]
    sort = args.opt_list("sort") or [{"property": "sortOrder"}, {"property": "name"}]
    for comp in reversed(sort):
        if not isinstance(comp, dict) or comp.get("property") not in ("sortOrder", "name"):
            raise MethodError(UNSUPPORTED_SORT)
        rev = comp.get("isAscending", True) is False
        if comp["property"] == "name":
            mailboxes.sort(key=lambda m: m.name.lower(), reverse=rev)
        else:
            mailboxes.sort(key=lambda m: m.sort_order, reverse=rev)
    return [ids.encode(ids.MAILBOX, m.id) for m in mailboxes]
