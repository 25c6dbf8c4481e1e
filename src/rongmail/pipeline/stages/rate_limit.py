"""Rate-limit stage (MAIL): messages per hour per authenticated account, per minute per
unauthenticated client address. A limit hit is a TEMPFAIL (451 4.7.1) so senders retry.

Counters are sliding-window logs kept in memory per node, bounded by ``max_keys`` (the oldest
keys are dropped first). This is long-lived policy state, not per-message state.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import ClassVar

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, tempfail


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> bool:
        """Record one event; False (and not recorded) when the key is over its limit."""
        now = self._clock()
        log = self._events.get(key)
        if log is None:
            log = self._events[key] = deque()
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= self.limit:
            return False
        log.append(now)
        return True


class RateLimitStage:
    name: ClassVar[str] = "rate_limit"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.MAIL})

    def __init__(
        self, settings: SmtpSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        per_user = settings.messages_per_hour_per_user
        per_ip = settings.messages_per_minute_per_ip
        self._users = SlidingWindow(per_user, 3600.0, clock=clock) if per_user else None
        self._ips = SlidingWindow(per_ip, 60.0, clock=clock) if per_ip else None

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if env.auth is not None:
            if self._users and not self._users.hit(f"account:{env.auth.account_id}"):
                return tempfail(self.name, "rate.limited", f"account {env.auth.account_id}")
        elif self._ips and not self._ips.hit(f"ip:{env.client.ip}"):
            return tempfail(self.name, "rate.limited", f"ip {env.client.ip}")
        return ACCEPT
