"""Outbound filtering of authenticated submissions at DATA (issue 9): a compromised account
suddenly sending bursts or spam is stopped, and the tenant's admins are alerted.

Per account, the stage keeps a bounded sliding window of (time, recipients) of its recent
submissions and a slow baseline (an hourly EWMA of recipients), and checks in order:

1. **burst**: more than ``burst_per_minute`` messages in the last minute → ``TEMPFAIL``
   (``outbound.burst``, 451 4.7.x): nothing is queued, a legitimate client retries later;
2. **flagged**: an account held in the last ``cooldown`` seconds → hold (``outbound.flagged``):
   once an account looks compromised, everything it sends waits for an admin;
3. **volume**: recipients in the last hour above ``max(hourly_floor, growth × baseline)`` →
   hold (``outbound.volume``);
4. **content**: the tenant's content model and rules (the same analyzers and policy as inbound)
   score the message; quarantine or worse → hold (``outbound.spam``). The thresholds are the
   tenant's ``spam_settings`` row, else the server's ``[spam]`` defaults (``thresholds``,
   ``content_enabled``, passed in by ``app.py`` exactly as to the inbound stage), never
   built-in numbers; a row or default that disables filtering skips this check only.

"Hold" is an ``ACCEPT`` verdict with the pipeline tag ``outbound.hold``: the quarantining
delivery (:class:`rongmail.pipeline.quarantine.QuarantineDelivery`) stores it in the quarantine
(``direction = outbound``) instead of the queue and mails the admins; an admin releases it into
the queue through ``/api/quarantine``. For bursts (refused, not stored) the stage calls the
injected ``alert`` itself, at most once per account and cooldown, without waiting for it.

State is long-lived and bounded (``max_accounts``), never per message (DESIGN.md rule 6).
Mail from unauthenticated sessions (MX) passes through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from rongmail.actions.context import ActionContext
from rongmail.actions.spam import SPAM_HEADER, SpamModels, do_alert_outbound_abuse
from rongmail.mime.parse import parse_message
from rongmail.pipeline.envelope import AuthIdentity, Envelope
from rongmail.pipeline.stage import ACCEPT, Action, Checkpoint, Reason, Verdict, tempfail
from rongmail.pipeline.stages.spam import TenantView, header_value
from rongmail.services.spam import Action as SpamAction
from rongmail.services.spam import ScanContext, Thresholds, analyze
from rongmail.store.ports import MetaStore

log = logging.getLogger(__name__)

#: Pipeline tag asking the delivery to hold the message instead of queueing it.
HOLD_TAG = "outbound.hold"
REASONS = ("burst", "flagged", "volume", "spam")

AlertFn = Callable[[AuthIdentity, str, str], Awaitable[object]]


def hold_reason(verdict: Verdict) -> str | None:
    """Why an ``outbound.hold`` verdict holds (``volume``, ``spam``...), if it does."""
    for r in REASONS:
        if f"outbound.{r}" in verdict.tags:
            return r
    return None


@dataclass
class _Window:
    events: deque[tuple[float, int]] = field(default_factory=deque)
    baseline: float = 0.0
    hour: int = -1
    hour_rcpts: int = 0
    flagged_until: float = 0.0
    alerted_until: float = 0.0

    def prune(self, now: float) -> None:
        while self.events and self.events[0][0] < now - 3600:
            self.events.popleft()

    def add(self, now: float, rcpts: int) -> None:
        hour = int(now // 3600)
        if hour != self.hour:
            if self.hour >= 0:
                # one EWMA step per hour boundary crossed (idle hours count as zero)
                for _ in range(min(hour - self.hour, 48)):
                    self.baseline = 0.8 * self.baseline + 0.2 * self.hour_rcpts
                    self.hour_rcpts = 0
            self.hour = hour
        self.hour_rcpts += rcpts
        self.events.append((now, rcpts))

    def messages_since(self, t: float) -> int:
        return sum(1 for ts, _ in self.events if ts >= t)

    def rcpts_since(self, t: float) -> int:
        return sum(n for ts, n in self.events if ts >= t)


class OutboundStage:
    name: ClassVar[str] = "outbound"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.DATA})

    def __init__(
        self,
        meta: MetaStore,
        models: SpamModels | None,
        *,
        burst_per_minute: int = 30,
        hourly_floor: int = 300,
        growth: float = 10.0,
        cooldown: float = 3600.0,
        budget: float = 5.0,
        max_accounts: int = 50_000,
        alert: AlertFn | None = None,
        clock: Callable[[], float] = time.time,
        thresholds: Thresholds | None = None,
        content_enabled: bool = True,
        cache_ttl: float = 60.0,
    ) -> None:
        self._tenants = TenantView(meta, ttl=cache_ttl, defaults=thresholds,
                                   enabled=content_enabled)
        self._models = models
        self._burst = burst_per_minute
        self._floor = hourly_floor
        self._growth = growth
        self._cooldown = cooldown
        self._budget = budget
        self._max = max_accounts
        self._alert = alert
        self._clock = clock
        self._windows: OrderedDict[int, _Window] = OrderedDict()
        self._tasks: set[asyncio.Task[object]] = set()

    def _window(self, account_id: int) -> _Window:
        w = self._windows.get(account_id)
        if w is None:
            w = self._windows[account_id] = _Window()
            while len(self._windows) > self._max:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(account_id)
        return w

    def _notify(self, ident: AuthIdentity, w: _Window, now: float, reason: str,
                detail: str) -> None:
        if self._alert is None or w.alerted_until > now:
            return
        w.alerted_until = now + self._cooldown
        task = asyncio.ensure_future(self._alert(ident, reason, detail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hold(self, w: _Window, now: float, reason: str, detail: str,
              header: tuple[tuple[str, str], ...] = (),
              tags: frozenset[str] = frozenset()) -> Verdict:
        w.flagged_until = now + self._cooldown
        w.alerted_until = max(w.alerted_until, now + self._cooldown)  # the delivery alerts
        return Verdict(Action.ACCEPT, (Reason(self.name, f"outbound.{reason}", detail),),
                       header, frozenset({HOLD_TAG, f"outbound.{reason}"}) | tags)

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        ident = env.auth
        if ident is None or env.message is None:
            return ACCEPT
        now = self._clock()
        w = self._window(ident.account_id)
        w.prune(now)
        recent = w.messages_since(now - 60)
        if recent >= self._burst:
            w.flagged_until = now + self._cooldown
            detail = f"{recent} messages in the last minute"
            self._notify(ident, w, now, "burst", detail)
            return tempfail(self.name, "outbound.burst", detail)
        w.add(now, len(env.rcpts))
        if w.flagged_until > now:
            return self._hold(w, now, "flagged", "account held after an earlier anomaly")
        hourly = w.rcpts_since(now - 3600)
        limit = max(self._floor, self._growth * w.baseline)
        if hourly > limit:
            return self._hold(w, now, "volume",
                              f"{hourly} recipients in the last hour (limit {limit:.0f})")
        return await self._content(ident, env.message, w, now)

    async def _content(self, ident: AuthIdentity, raw: bytes, w: _Window,
                       now: float) -> Verdict:
        policy, domains, people = await self._tenants.get(ident.tenant_id)
        if policy is None:
            return ACCEPT
        model = await self._models.get(ident.tenant_id) if self._models is not None else None
        try:
            parsed = await asyncio.wait_for(asyncio.to_thread(parse_message, raw), self._budget)
            ctx = ScanContext(tenant_domains=domains, raw=raw, model=model,
                              envelope_from=ident.address)
            tags = await asyncio.wait_for(analyze(parsed, ctx, timeout=self._budget),
                                          self._budget)
        except TimeoutError:
            log.info("outbound content check of %s overran its budget", ident.address)
            return ACCEPT
        v = policy.decide(tags)
        if v.action < SpamAction.QUARANTINE:
            return ACCEPT
        header = ((SPAM_HEADER, header_value(v)),)
        spam_tags = frozenset(f"spam:{n}" for n in v.tag_names)
        return self._hold(w, now, "spam", f"score={v.score:.1f}", header, spam_tags)


def action_alert(ctx: ActionContext) -> AlertFn:
    """The ``alert`` callback over :func:`rongmail.actions.spam.do_alert_outbound_abuse`."""

    async def alert(ident: AuthIdentity, reason: str, detail: str) -> object:
        try:
            return await do_alert_outbound_abuse(ctx, ident.tenant_id, ident.address,
                                                 reason=reason, detail=detail)
        except Exception:  # noqa: BLE001 - alerts never break submission
            log.exception("outbound alert for %s failed", ident.address)
            return 0

    return alert
