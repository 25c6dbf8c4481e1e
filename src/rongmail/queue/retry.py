"""Retry timing for deferred deliveries (RFC 5321 §4.5.4.1).

Pure functions: given how many attempts failed, when the message was queued and the settings,
say when to try next, whether to give up, and whether a delay notice is due. The scheduler
passes ``now`` and a random source, so tests need no clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rongmail.config.queue import RetrySettings


def backoff(
    attempts: int, settings: RetrySettings, *, rng: Callable[[], float] = random.random
) -> int:
    """Seconds to wait after the ``attempts``-th failure (1-based); the schedule's last value
    repeats, and a jitter spreads retries of a burst apart."""
    schedule = settings.schedule or (3600,)
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    spread = base * settings.jitter
    return max(1, int(base + spread * (2 * rng() - 1)))


def next_attempt(
    attempts: int,
    created_at: int,
    expires_at: int,
    now: int,
    settings: RetrySettings,
    *,
    rng: Callable[[], float] = random.random,
) -> int | None:
    """When to try again after ``attempts`` failures, or ``None`` when the message has
    reached its lifetime and must bounce (RFC 5321 §4.5.4.1 "give up" time)."""
    if now >= expires_at:
        return None
    at = now + backoff(attempts, settings, rng=rng)
    # One last try right at the deadline rather than never trying near it.
    return min(at, expires_at)


def delay_notice_due(created_at: int, now: int, settings: RetrySettings) -> bool:
    """A delay DSN (RFC 3464 ``Action: delayed``) is due once per recipient after
    ``delay_warning`` seconds in the queue."""
    return settings.delay_warning > 0 and now - created_at >= settings.delay_warning
