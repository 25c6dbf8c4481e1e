"""EmailSubmission/query (RFC 8621 §7.3): filters identityIds, emailIds, threadIds, undoStatus,
before, after; sorts emailId, threadId, sentAt."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.email_query import parse_utc
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import UNSUPPORTED_FILTER, UNSUPPORTED_SORT, MethodError
from rongmail.protocols.jmap.standard import QUERY_ARGS, state, window
from rongmail.store.reader import SubmissionRow

_SORT_KEYS = {"emailId": lambda r: r.email_id, "threadId": lambda r: r.thread_id,
              "sentAt": lambda r: r.send_at}


def _match(call: Call, r: SubmissionRow, f: dict[str, Any]) -> bool:
    for k, v in f.items():
        if k == "identityIds":
            ok = r.identity_id in {call.resolve(ids.IDENTITY, x) for x in v or []}
        elif k == "emailIds":
            ok = r.email_id in {call.resolve(ids.EMAIL, x) for x in v or []}
        elif k == "threadIds":
            ok = r.thread_id in {call.resolve(ids.THREAD, x) for x in v or []}
        elif k == "undoStatus":
            ok = r.undo_status == v
        elif k == "before":
            ok = r.send_at < parse_utc(v, k)
        elif k == "after":
            ok = r.send_at >= parse_utc(v, k)
        else:
            raise MethodError(UNSUPPORTED_FILTER, f"unsupported condition '{k}'")
        if not ok:
            return False
    return True


async def submission_query(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, QUERY_ARGS)
    call.check_account(args)
    st = await state(call)
    rows = await call.deps.reader.submissions(call.account_id)
    f = args.opt_obj("filter")
    if f is not None:
        if "operator" in f:
            raise MethodError(UNSUPPORTED_FILTER, "FilterOperator")
        rows = [r for r in rows if _match(call, r, f)]
    for comp in reversed(args.opt_list("sort") or []):
        key = _SORT_KEYS.get(str(comp.get("property"))) if isinstance(comp, dict) else None
        if key is None:
            raise MethodError(UNSUPPORTED_SORT)
        rows.sort(key=key, reverse=comp.get("isAscending", True) is False)
    all_ids = [ids.encode(ids.SUBMISSION, r.id) for r in rows]
    return {"accountId": call.jmap_account_id, "queryState": st, "canCalculateChanges": False,
            **window(call, args, all_ids)}
