"""Push notifications (RFC 8620 §7.1 StateChange) built from change-bus batches.

A batch of :class:`~rongmail.core.changes.Change` becomes ``{"@type": "StateChange", "changed":
{accountId: {type: state}}}`` with the batch's modseq as the new state of every JMAP type it
touched. New emails also change ``EmailDelivery`` (RFC 8621 §1.5) — except those created by the
client itself, which the change log cannot tell apart, so every creation counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rongmail.core.changes import EMAIL, MAILBOX, THREAD, Change
from rongmail.protocols.jmap.proto import ids

PUSH_TYPES = frozenset({EMAIL, MAILBOX, THREAD, "EmailDelivery", "Identity", "EmailSubmission",
                        "VacationResponse"})


def changed_types(batch: Iterable[Change]) -> dict[int, dict[str, str]]:
    """account id -> {JMAP type -> new state}."""
    out: dict[int, dict[str, str]] = {}
    for c in batch:
        if c.type not in PUSH_TYPES:
            continue
        per = out.setdefault(c.account_id, {})
        state = str(c.modseq)
        if int(per.get(c.type, "0")) < c.modseq:
            per[c.type] = state
        if c.type == EMAIL and c.action == "created":
            per["EmailDelivery"] = state
    return out


def state_change(batch: Iterable[Change], wanted: frozenset[str] | None) -> dict[str, Any] | None:
    """The StateChange for ``batch`` restricted to ``wanted`` types (None = all), or None."""
    changed: dict[str, dict[str, str]] = {}
    for account_id, types in changed_types(batch).items():
        keep = {t: s for t, s in types.items() if wanted is None or t in wanted}
        if keep:
            changed[ids.encode(ids.ACCOUNT, account_id)] = keep
    if not changed:
        return None
    return {"@type": "StateChange", "changed": changed}


def full_state_change(account_id: int, state: str, wanted: frozenset[str] | None
                      ) -> dict[str, Any]:
    """After a bus overflow: tell the client every type may have changed."""
    types = {t: state for t in PUSH_TYPES if wanted is None or t in wanted}
    return {"@type": "StateChange", "changed": {ids.encode(ids.ACCOUNT, account_id): types}}
