"""Deleting in batches: how every retention action (``workers.housekeeping``, the login history
purge) removes rows without holding the store's write lock for long.

Invariant: each batch is one relaxed write transaction, complete on its own (a batch that a
crash undoes is redone by the next pass), and the event loop gets a turn between batches, so
the sessions' own writes are never queued behind a long delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rongmail.actions.context import ActionContext
from rongmail.store.sql.q import Op


async def in_batches(ctx: ActionContext, op: Callable[[int], Op[int]], limit: int) -> int:
    """Write ``op(limit)`` (an op that deletes at most ``limit`` rows and returns how many) as
    one relaxed transaction after another until a batch comes back short; returns the total."""
    total = 0
    while True:
        n = int(await ctx.meta.write(op(limit), durable=False))
        total += n
        if n < limit:
            return total
        await asyncio.sleep(0)
