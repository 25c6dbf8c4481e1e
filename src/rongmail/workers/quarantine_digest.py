"""The daily quarantine digest and quarantine expiry (issue 9).

Once a day (at ``hour`` o'clock UTC), every account with held inbound messages not yet
announced gets one digest mail in its own language listing sender, subject, score and the main
tags of each, with how to release them; tenants whose spam settings turn the digest off are
skipped. Each pass also expires held rows past their retention (their blobs then become
collectable by blob GC). All writes go through :mod:`rongmail.actions.spam`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from rongmail.actions.context import ActionContext
from rongmail.actions.spam import do_purge_quarantine, do_send_quarantine_digest
from rongmail.store.sql import spam as ss

log = logging.getLogger(__name__)


async def digest_once(ctx: ActionContext, *, base_url: str = "") -> int:
    """One pass: expire old rows, then send the digests; returns how many mails were sent."""
    await do_purge_quarantine(ctx)
    rows = await ctx.meta.read(ss.undigested(limit=5000))
    by_account: dict[int, list[ss.QuarantineRow]] = defaultdict(list)
    for r in rows:
        if r.account_id is not None:
            by_account[r.account_id].append(r)
    enabled: dict[int, bool] = {}
    sent = 0
    for account_id, items in by_account.items():
        tenant = items[0].tenant_id
        if tenant not in enabled:
            s = await ctx.meta.read(ss.get_settings(tenant))
            enabled[tenant] = s is None or s.digest
        if not enabled[tenant]:
            continue
        try:
            if await do_send_quarantine_digest(ctx, account_id, items[:200], base_url=base_url):
                sent += 1
        except Exception:  # noqa: BLE001 - one account must not stop the others
            log.exception("quarantine digest for account %d failed", account_id)
    return sent


def seconds_until(hour: int, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    nxt = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if nxt <= now:
        nxt += timedelta(days=1)
    return (nxt - now).total_seconds()


async def run_quarantine_digest(ctx: ActionContext, *, hour: int = 1,
                                base_url: str = "") -> None:
    """Send digests daily at ``hour``:00 UTC (09:00 in Asia/Shanghai by default) until
    cancelled."""
    while True:
        await asyncio.sleep(seconds_until(hour))
        started = time.monotonic()
        try:
            n = await digest_once(ctx, base_url=base_url)
            log.info("quarantine digest: %d mails in %.1fs", n, time.monotonic() - started)
        except Exception:  # noqa: BLE001 - try again tomorrow
            log.exception("quarantine digest failed")
