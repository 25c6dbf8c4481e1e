"""Identity/changes (RFC 8621 §6.2) from the ``Identity`` rows of the change log.

The built-in identity ``I0`` is stored, once edited, as an undeletable row; changes to that row
are reported as updates of ``I0`` (it always exists), so a client's cache stays consistent.
"""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.identities import BUILTIN, is_builtin_row
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.standard import CHANGES_ARGS, changes


async def identity_changes(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, CHANGES_ARGS)
    call.check_account(args)
    out = await changes(call, args, "Identity", ids.IDENTITY)
    rows = await call.deps.reader.identities(call.account.id)
    builtin_rows = {ids.encode(ids.IDENTITY, r.id) for r in rows
                    if is_builtin_row(r, call.account)}
    if not builtin_rows:
        return out
    i0 = ids.encode(ids.IDENTITY, BUILTIN)
    touched = any(x in builtin_rows for k in ("created", "updated", "destroyed")
                  for x in out.get(k, []))
    for k in ("created", "updated", "destroyed"):
        out[k] = [x for x in out.get(k, []) if x not in builtin_rows]
    if touched and i0 not in out["updated"]:
        out["updated"].append(i0)
    return out
