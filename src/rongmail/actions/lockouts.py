"""Brute-force throttling state in the store (issue 8): the write path of
``services.auth.authenticate.ThrottleStore``.

:class:`StoreThrottle` is what ``app.py`` gives the authenticator, so lockouts survive a
restart and every node of a PostgreSQL cluster sees the same counters (``store.sql.lockout``,
migration 0106). Each failure is one write transaction; a success writes only when the pair had
failures on record; checks are reads.

Invariant: no secret reaches this module — only the login name as typed and the source network
(IPv4 address or IPv6 /64).
"""

from __future__ import annotations

import time

from rongmail.actions.context import ActionContext
from rongmail.core.models import Account
from rongmail.store.sql import auth as sa
from rongmail.store.sql import lockout as lk
from rongmail.store.sql.q import Op

#: purge idle counters every this many failures (per process)
PURGE_EVERY = 256


class StoreThrottle:
    """``ThrottleStore`` over ``ctx.meta`` (SQLite or PostgreSQL)."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self._since_purge = 0

    async def state(self, login: str, source: str) -> lk.ThrottleState:
        return await self.ctx.meta.read(lk.state(login, source))

    async def fail(
        self, login: str, source: str, now: int, rule: lk.FailureRule
    ) -> lk.ThrottleState:
        st = await self.ctx.meta.write(lk.fail(login, source, now, rule))
        self._since_purge += 1
        if self._since_purge >= PURGE_EVERY:
            self._since_purge = 0
            await do_purge_throttle(self.ctx, before=now - rule.forget_after)
        return st

    async def clear(self, login: str, source: str) -> None:
        await self.ctx.meta.write(lk.clear_pair(login, source))

    async def failed_logins(self, source: str, since: int) -> int:
        return await self.ctx.meta.read(lk.failed_logins(source, since))


async def do_purge_throttle(ctx: ActionContext, *, before: int) -> int:
    """Drop counters idle since ``before`` whose block has ended."""
    return await ctx.meta.write(lk.purge(before, int(time.time())))


def _unlock(key: bytes, account: Account, actor_id: int | None, remote: str) -> Op[int]:
    removed = yield from lk.clear_login(account.address)
    yield from sa.append_audit(
        key,
        category="security",
        action="account.unlocked",
        outcome="ok",
        tenant_id=account.tenant_id,
        account_id=account.id,
        actor_id=actor_id,
        remote=remote,
        detail={"counters": removed},
    )
    return removed


async def do_unlock_account(
    ctx: ActionContext,
    key: bytes,
    account: Account,
    *,
    actor_id: int | None = None,
    remote: str = "",
) -> int:
    """Admin unlock: clear the brute-force counters and back-off blocks of ``account``'s
    address from every source, audited in the same transaction (hash-chained log). A
    per-source spraying block is not the account's and stays. Returns the rows removed."""
    return int(await ctx.meta.write(_unlock(key, account, actor_id, remote)))
