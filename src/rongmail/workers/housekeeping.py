"""Housekeeping: retention of the tables that grow with every event.

Role: a pass every hour (the first ten minutes after start, not while caches are cold) that
removes what the server no longer needs, each through its action:

* change-log rows older than ``storage.change_log_days`` (:mod:`rongmail.actions.changes`);
  clients whose state is older resynchronize (IMAP lists the mailbox, JMAP answers
  ``cannotCalculateChanges``).

Every node runs it; the deletes are idempotent, so two nodes pruning at once cost only the
duplicated reads. A failing step is logged and the next step still runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from rongmail.actions.changes import do_prune_change_log
from rongmail.actions.context import ActionContext

log = logging.getLogger(__name__)


async def housekeeping_once(ctx: ActionContext, *, now: int | None = None) -> dict[str, int]:
    """One pass; returns the rows removed per step (a failed step is absent)."""
    now = int(time.time()) if now is None else now
    storage = ctx.settings.storage
    steps: dict[str, Callable[[], Awaitable[int]]] = {
        "change_log": lambda: do_prune_change_log(
            ctx, before=now - storage.change_log_days * 86400),
    }
    done: dict[str, int] = {}
    for name, step in steps.items():
        try:
            done[name] = await step()
        except Exception:
            log.exception("housekeeping step %s failed", name)
    removed = {k: v for k, v in done.items() if v}
    if removed:
        log.info("housekeeping removed %s", removed)
    return done


async def run_housekeeping(ctx: ActionContext, *, every: float = 3600.0,
                           first: float = 600.0) -> None:
    """A pass every ``every`` seconds, the first ``first`` seconds after start."""
    await asyncio.sleep(first)
    while True:
        await housekeeping_once(ctx)
        await asyncio.sleep(every)
