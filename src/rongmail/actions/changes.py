"""Change-log retention: the write path of ``store.sql.mail.prune_changes`` (migration 0201).

Invariant: a pruned account's ``change_log_floor`` is raised in the same transaction as its
rows are deleted, so a reader never sees a gap the floor does not explain: a state older than
the floor is refused (IMAP lists again, JMAP ``cannotCalculateChanges``), never answered with
an incomplete list of changes.
"""

from __future__ import annotations

from rongmail.actions.batches import in_batches
from rongmail.actions.context import ActionContext
from rongmail.store.sql import mail as ml


async def do_prune_change_log(ctx: ActionContext, *, before: int) -> int:
    """Delete change-log rows written before ``before`` (unix seconds), oldest first, in
    batches of :data:`store.sql.mail.PRUNE_BATCH`, each its own relaxed transaction (a prune a
    crash undoes is redone by the next pass) with a turn of the event loop between them, so
    the sessions' own writes are not held up behind a long delete. Returns the rows deleted."""
    return await in_batches(ctx, lambda n: ml.prune_changes(before, n), ml.PRUNE_BATCH)
